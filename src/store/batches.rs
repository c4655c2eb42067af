//! How the store cuts a batch (an import's 1,000 rows, a group's members) into multi-row
//! statements, and which of those statements stay prepared on the connection.
//!
//! A statement's text is the key of the connection's prepared-statement cache, and a list of n
//! placeholders is a text of its own. `IN (...)` lists are therefore padded to a power of two
//! ([`super::sql::Sql::bind_padded_list`]: ten shapes up to [`CHUNK`], all kept prepared), while a
//! multi-row `INSERT`, which cannot be padded, stays prepared only in the shapes that recur:
//! a few rows (a POST) and a full chunk (the body of an import batch).

use std::collections::HashSet;

/// Values per `IN (...)` list and rows per multi-row `INSERT`. A user row binds 12 values, so a
/// statement binds at most 6,144: well under SQLite's 32,766 and PostgreSQL's 65,535.
pub(super) const CHUNK: usize = 512;

/// Rows of a multi-row `INSERT` up to which its statement stays prepared (nearly every POST).
const FEW_ROWS: usize = 4;

/// Whether a multi-row `INSERT` of `rows` rows has one of the recurring shapes worth keeping
/// prepared.
pub(super) fn insert_keeps_prepared(rows: usize) -> bool {
    rows <= FEW_ROWS || rows == CHUNK
}

/// `values` without repeats (first occurrence kept, order kept), cut into chunks of at most
/// [`CHUNK`]: each chunk becomes one `IN (...)` list.
pub(super) fn distinct_chunks<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Vec<&'a str>> {
    let mut seen = HashSet::new();
    let distinct: Vec<&str> = values.into_iter().filter(|value| seen.insert(*value)).collect();
    distinct.chunks(CHUNK).map(<[&str]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_drop_repeats_and_keep_the_order() {
        assert_eq!(distinct_chunks(["b", "a", "b", "c", "a"]), vec![vec!["b", "a", "c"]]);
        assert!(distinct_chunks([]).is_empty());
    }

    #[test]
    fn long_lists_are_cut_at_the_chunk_size() {
        let values: Vec<String> = (0..CHUNK * 2 + 1).map(|n| n.to_string()).collect();
        let sizes: Vec<usize> = distinct_chunks(values.iter().map(String::as_str)).iter().map(Vec::len).collect();
        assert_eq!(sizes, [CHUNK, CHUNK, 1]);
    }

    #[test]
    fn only_recurring_insert_shapes_stay_prepared() {
        assert!(insert_keeps_prepared(1) && insert_keeps_prepared(4) && insert_keeps_prepared(CHUNK));
        assert!(!insert_keeps_prepared(5) && !insert_keeps_prepared(CHUNK - 1));
    }
}

/// The batch methods against both backends: what they store and answer, and that each costs one
/// statement per chunk however many rows it carries.
#[cfg(test)]
mod store_tests {
    use std::sync::{Arc, Mutex};

    use chrono::Utc;
    use diesel::connection::{Connection, InstrumentationEvent};
    use serde_json::{json, Value};

    use super::CHUNK;
    use crate::scim::schema::ResourceKind;
    use crate::store::connection::DbConn;
    use crate::store::test_databases::{self, TestStore};
    use crate::store::{
        ImportCounts, ImportPhase, ImportRecord, ImportRowRecord, ImportStatus, MembershipSource, NewMember,
        Repository, ResourceWrite, SqlRepository, Store, StoreError, StoredResource, UserRows,
    };
    use crate::tenant::TenantId;

    fn on_each_backend(test: impl Fn(&Store)) {
        let stores: Vec<TestStore> =
            std::iter::once(test_databases::sqlite()).chain(test_databases::postgres()).collect();
        for TestStore { store, .. } in &stores {
            test(store);
        }
    }

    /// Runs `work` on one connection (autocommit) and returns its outcome and the SQL of every
    /// statement it ran.
    fn run<T>(store: &Store, work: impl FnOnce(&mut dyn Repository) -> T) -> (T, Vec<String>) {
        let statements = Arc::new(Mutex::new(Vec::new()));
        let mut pooled = store.connection().unwrap();
        let log = Arc::clone(&statements);
        pooled.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                log.lock().unwrap().push(query.to_string());
            }
        });
        let outcome = work(&mut SqlRepository::new(DbConn::from(&mut *pooled), &store.schemas));
        pooled.set_instrumentation(|_: InstrumentationEvent<'_>| {});
        let statements = statements.lock().unwrap().clone();
        (outcome, statements)
    }

    fn tenant() -> TenantId {
        TenantId::parse("acme").unwrap()
    }

    fn user(user_name: &str, emails: &[&str]) -> ResourceWrite {
        let emails: Vec<Value> = emails.iter().map(|e| json!({"value": e, "type": "work"})).collect();
        ResourceWrite {
            data: json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name,
                         "externalId": format!("ext-{user_name}"), "emails": emails, "active": true}),
            password_hash: None,
        }
    }

    fn group(name: &str) -> ResourceWrite {
        ResourceWrite {
            data: json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}),
            password_hash: None,
        }
    }

    fn ids(resources: &[StoredResource]) -> Vec<&str> {
        resources.iter().map(|r| r.id.as_str()).collect()
    }

    fn version(repo: &mut dyn Repository, kind: ResourceKind, id: &str) -> i64 {
        repo.get(&tenant(), kind, id).unwrap().unwrap().version
    }

    /// The start of each statement, for a readable failure.
    fn starts(statements: &[String]) -> Vec<&str> {
        statements.iter().map(|s| &s[..s.len().min(60)]).collect()
    }

    /// How many statements start with `prefix`.
    fn count(statements: &[String], prefix: &str) -> usize {
        statements.iter().filter(|s| s.starts_with(prefix)).count()
    }

    #[test]
    fn insert_many_leaves_out_taken_ids_and_user_names_and_keeps_the_input_order() {
        on_each_backend(|store| {
            let t = tenant();
            let (_, _) = run(store, |repo| repo.insert(&t, ResourceKind::User, "u0", &user("Taken", &[])).unwrap());
            let (alice, bob) = (user("alice", &["Alice@Example.com"]), user("bob", &["bob@example.com"]));
            let (fresh, clash, twin, again) = (
                user("fresh", &["fresh@example.com"]),
                user("TAKEN", &["t@example.com"]),
                user("ALICE", &[]),
                user("x", &[]),
            );
            let batch = [("u1", &alice), ("u0", &fresh), ("u2", &clash), ("u3", &twin), ("u4", &bob), ("u1", &again)];
            let (stored, _) = run(store, |repo| repo.insert_many(&t, ResourceKind::User, &batch).unwrap());
            assert_eq!(ids(&stored), ["u1", "u4"]);
            assert_eq!((&stored[0].data, stored[0].version), (&alice.data, 1));
            assert_eq!(stored[1].data, bob.data);
            let (found, _) = run(store, |repo| {
                let emails = ["alice@example.com", "fresh@example.com", "t@example.com", "BOB@example.com"];
                (repo.users_with_emails(&t, &emails).unwrap(), repo.get(&t, ResourceKind::User, "u0").unwrap())
            });
            let pairs = [("alice@example.com", "u1"), ("BOB@example.com", "u4")];
            assert_eq!(found.0, pairs.map(|(e, id)| (e.to_string(), id.to_string())));
            assert_eq!(found.1.unwrap().data["userName"], "Taken");
        });
    }

    #[test]
    fn a_taken_user_name_refuses_the_single_insert_without_spoiling_the_transaction() {
        on_each_backend(|store| {
            let t = tenant();
            let outcome = store.write(|repo| {
                repo.insert(&t, ResourceKind::User, "u1", &user("bjensen", &[]))?;
                let refused = repo.insert(&t, ResourceKind::User, "u2", &user("BJensen", &[]));
                assert!(matches!(refused, Err(StoreError::UniqueViolation(_))), "{refused:?}");
                repo.insert(&t, ResourceKind::Group, "g1", &group("Staff"))?;
                let refused = repo.insert(&t, ResourceKind::Group, "g1", &group("Same id"));
                assert!(matches!(refused, Err(StoreError::UniqueViolation(_))), "{refused:?}");
                repo.insert(&t, ResourceKind::User, "u3", &user("other", &[]))
            });
            assert_eq!(outcome.unwrap().id, "u3");
            let (found, _) =
                run(store, |repo| repo.users_with_user_names(&t, &["BJENSEN", "other", "nobody"]).unwrap());
            assert_eq!(found, [("BJENSEN", "u1"), ("other", "u3")].map(|(n, id)| (n.to_string(), id.to_string())));
        });
    }

    #[test]
    fn lookups_answer_each_value_as_given_in_input_order() {
        on_each_backend(|store| {
            let t = tenant();
            let (alice, alias, other) =
                (user("alice", &["a@x.org"]), user("al", &["A@X.org"]), user("o", &["o@x.org"]));
            let batch = [("u2", &alias), ("u1", &alice), ("u3", &other)];
            run(store, |repo| repo.insert_many(&t, ResourceKind::User, &batch).unwrap());
            let (found, _) = run(store, |repo| {
                (
                    repo.users_with_emails(&t, &["o@x.org", "a@X.ORG", "a@x.org", "o@x.org"]).unwrap(),
                    repo.users_with_external_ids(&t, &["ext-o", "EXT-alice", "ext-alice"]).unwrap(),
                    repo.users_with_email(&t, "A@x.org").unwrap(),
                    repo.users_with_external_id(&t, "ext-al").unwrap(),
                    repo.user_with_user_name(&t, "ALICE").unwrap(),
                )
            });
            let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
                list.iter().map(|(v, id)| (v.to_string(), id.to_string())).collect()
            };
            let emails =
                [("o@x.org", "u3"), ("a@X.ORG", "u1"), ("a@X.ORG", "u2"), ("a@x.org", "u1"), ("a@x.org", "u2")];
            assert_eq!(found.0, pairs(&emails));
            assert_eq!(found.1, pairs(&[("ext-o", "u3"), ("ext-alice", "u1")]));
            assert_eq!(
                (found.2, found.3, found.4),
                (vec!["u1".into(), "u2".into()], vec!["u2".into()], Some("u1".into()))
            );
        });
    }

    #[test]
    fn add_memberships_skips_existing_ones_and_bumps_each_joining_user_once() {
        on_each_backend(|store| {
            let t = tenant();
            let member = |id: &str, kind| NewMember { id: id.to_string(), kind, display: None };
            let user_member = |id: &str| member(id, ResourceKind::User);
            run(store, |repo| {
                for id in ["u1", "u2", "u3"] {
                    repo.insert(&t, ResourceKind::User, id, &user(id, &[])).unwrap();
                }
                for id in ["g1", "g2"] {
                    repo.insert(&t, ResourceKind::Group, id, &group(id)).unwrap();
                }
                assert_eq!(repo.add_members(&t, "g1", &[user_member("u1")], MembershipSource::Scim).unwrap(), 1);
            });
            let memberships = [
                ("g2", user_member("u2")),
                ("g1", user_member("u1")),
                ("g1", user_member("u2")),
                ("g2", user_member("u1")),
                ("g2", user_member("u2")),
                ("g2", member("g1", ResourceKind::Group)),
            ];
            let (outcome, _) = run(store, |repo| {
                let added = repo.add_memberships(&t, &memberships, MembershipSource::Import, false).unwrap();
                let versions: Vec<i64> =
                    ["u1", "u2", "u3"].iter().map(|id| version(repo, ResourceKind::User, id)).collect();
                let groups = [version(repo, ResourceKind::Group, "g1"), version(repo, ResourceKind::Group, "g2")];
                (added, versions, groups, repo.memberships_of_many(&t, &["u2", "u1", "g1", "u3"]).unwrap())
            });
            let (added, versions, group_versions, memberships_now) = outcome;
            let pairs = [("g2", "u2"), ("g1", "u2"), ("g2", "u1"), ("g2", "g1")];
            assert_eq!(added, pairs.map(|(g, m)| (g.to_string(), m.to_string())));
            assert_eq!(versions, [3, 2, 1], "u1 joined at setup and once here; u2 once; u3 never");
            assert_eq!(group_versions, [1, 1], "a group's own version is its caller's (touch)");
            let (scim, import) = (MembershipSource::Scim, MembershipSource::Import);
            let expected = [("u2", "g1", import), ("u2", "g2", import), ("u1", "g1", scim), ("u1", "g2", import)]
                .into_iter()
                .chain([("g1", "g2", import)])
                .map(|(m, g, s)| (m.to_string(), g.to_string(), s))
                .collect::<Vec<_>>();
            assert_eq!(memberships_now, expected);
        });
    }

    #[test]
    fn import_rows_of_users_answer_each_users_first_row() {
        on_each_backend(|store| {
            let t = tenant();
            let now = Utc::now();
            let import = ImportRecord {
                id: "imp".into(),
                tenant: t.clone(),
                status: ImportStatus::Running,
                phase: ImportPhase::Commit,
                dry_run: false,
                options: json!({}),
                profile: json!({}),
                file_name: None,
                file_bytes: 0,
                header: None,
                delimiter: None,
                encoding: None,
                total_rows: 4,
                processed_rows: 0,
                counts: ImportCounts::default(),
                selected_rows: None,
                changes: None,
                preview_fingerprint: None,
                lease_owner: None,
                lease_until: None,
                created_at: now,
                updated_at: now,
            };
            let row = |row, action, user: &str| ImportRowRecord {
                row,
                action,
                user_id: Some(user.to_string()),
                matched_version: None,
                operation: None,
                cells: None,
                invited: false,
            };
            use crate::store::RowAction::{Create, Update};
            let (found, _) = run(store, |repo| {
                repo.insert_import(&import).unwrap();
                let invited = ImportRowRecord { invited: true, ..row(4, Update, "u1") };
                let rows = [row(2, Update, "u2"), row(3, Create, "u1"), invited, row(5, Update, "u2")];
                repo.insert_import_rows(&t, "imp", &rows).unwrap();
                (
                    repo.import_rows_of_users(&t, "imp", &["u1", "u3", "u2"]).unwrap(),
                    repo.import_row_of_user(&t, "imp", "u2").unwrap(),
                )
            });
            let rows =
                |user: &str, first_row, action, invited| UserRows { user_id: user.into(), first_row, action, invited };
            assert_eq!(found.0, [rows("u1", 3, Create, true), rows("u2", 2, Update, false)]);
            assert_eq!(found.1, Some((2, Update)));
        });
    }

    #[test]
    fn a_batch_costs_one_statement_per_chunk() {
        on_each_backend(|store| {
            let t = tenant();
            let postgres = store.backend() == crate::store::Backend::Postgres;
            let n = CHUNK + CHUNK / 2;
            let ids: Vec<String> = (0..n).map(|i| format!("u{i:04}")).collect();
            let writes: Vec<ResourceWrite> =
                (0..n).map(|i| user(&format!("user{i}"), &[&format!("user{i}@x.org")])).collect();
            let batch: Vec<(&str, &ResourceWrite)> = ids.iter().map(String::as_str).zip(&writes).collect();
            let id_list: Vec<&str> = ids.iter().map(String::as_str).collect();
            run(store, |repo| repo.insert(&t, ResourceKind::Group, "g1", &group("g1")).unwrap());

            let (stored, statements) = run(store, |repo| repo.insert_many(&t, ResourceKind::User, &batch).unwrap());
            assert_eq!(stored.len(), n);
            assert_eq!(count(&statements, "INSERT INTO scim_users"), 2, "{:#?}", starts(&statements));
            assert_eq!(count(&statements, "INSERT INTO user_emails"), 2);
            assert_eq!(statements.len(), 4, "{:#?}", starts(&statements));

            let emails: Vec<String> = (0..n).map(|i| format!("USER{i}@x.org")).collect();
            let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
            let names: Vec<String> = (0..n).map(|i| format!("user{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let external_ids: Vec<String> = (0..n).map(|i| format!("ext-user{i}")).collect();
            let external_ids: Vec<&str> = external_ids.iter().map(String::as_str).collect();
            let memberships: Vec<(&str, NewMember)> = id_list
                .iter()
                .map(|id| ("g1", NewMember { id: id.to_string(), kind: ResourceKind::User, display: None }))
                .collect();
            let (answers, statements) = run(store, |repo| {
                [
                    repo.get_many(&t, ResourceKind::User, &id_list).unwrap().len(),
                    repo.users_with_emails(&t, &emails).unwrap().len(),
                    repo.users_with_user_names(&t, &names).unwrap().len(),
                    repo.users_with_external_ids(&t, &external_ids).unwrap().len(),
                    repo.add_memberships(&t, &memberships, MembershipSource::Import, false).unwrap().len(),
                    repo.memberships_of_many(&t, &id_list).unwrap().len(),
                    repo.import_rows_of_users(&t, "none", &id_list).unwrap().len(),
                ]
            });
            assert_eq!(answers, [n, n, n, n, n, n, 0]);
            // Two chunks each; add_memberships also bumps its users and (PostgreSQL) locks its group.
            let expected = 7 * 2 + 2 + usize::from(postgres);
            assert_eq!(statements.len(), expected, "{:#?}", starts(&statements));
        });
    }
}
