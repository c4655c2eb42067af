//! Group membership under concurrent PATCHes and at 100,000 members: membership changes are set
//! operations on the membership table inside one transaction, never a rewrite of the member list.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use serde_json::json;

use crate::helpers::*;

const THREADS: usize = 8;
const CHANGES_PER_THREAD: usize = 6;
const SEEDED_MEMBERS: usize = 100_000;
const SEEDED_AT: &str = "2000-01-01T00:00:00.000000Z";

#[test]
fn eight_threads_adding_and_removing_different_members_of_one_group_lose_nothing() {
    let app = TestApp::spawn_with(&[("ROSTER_WORKERS", "4"), ("ROSTER_DB_POOL_SIZE", "8")]);
    let create_users = |prefix: &str| -> Vec<Vec<String>> {
        (0..THREADS)
            .map(|t| (0..CHANGES_PER_THREAD).map(|i| id_of(&app.create_user(&format!("{prefix}-{t}-{i}")))).collect())
            .collect()
    };
    let leaving = create_users("leaving");
    let joining = create_users("joining");
    let bystanders: Vec<String> = (0..5).map(|i| id_of(&app.create_user(&format!("bystander-{i}")))).collect();
    let initial: Vec<&str> = leaving.iter().flatten().chain(&bystanders).map(String::as_str).collect();
    let group = app.create_group("Contended", &initial);
    let path = format!("/Groups/{}?excludedAttributes=members", id_of(&group));

    std::thread::scope(|scope| {
        for (to_add, to_remove) in joining.iter().zip(&leaving) {
            let path = &path;
            let app = &app;
            scope.spawn(move || {
                for (add, remove) in to_add.iter().zip(to_remove) {
                    for operation in [
                        json!({"op": "add", "path": "members", "value": [{"value": add}]}),
                        json!({"op": "remove", "path": format!("members[value eq \"{remove}\"]")}),
                    ] {
                        let response = app.patch(path, &patch_op(json!([operation])));
                        assert_eq!(response.status(), 200, "{operation}: {}", response.text().unwrap_or_default());
                    }
                }
            });
        }
    });

    let mut expected: Vec<String> = joining.into_iter().flatten().chain(bystanders).collect();
    expected.sort();
    assert_eq!(app.member_ids(&id_of(&group)), expected);
}

/// A group PUT gives its members new versions while they are being renamed: the writes lock rows
/// in one order and retry after a concurrent bump, so every one of them succeeds.
#[test]
fn group_replacements_and_member_renames_running_together_all_succeed() {
    let app = TestApp::spawn_with(&[("ROSTER_WORKERS", "4"), ("ROSTER_DB_POOL_SIZE", "8")]);
    let users: Vec<String> = (0..6).map(|i| id_of(&app.create_user(&format!("member-{i}")))).collect();
    let group = app.create_group("Busy", &users.iter().map(String::as_str).collect::<Vec<_>>());
    let group_path = format!("/Groups/{}?excludedAttributes=members", id_of(&group));
    let members: Vec<serde_json::Value> = users.iter().map(|id| json!({"value": id})).collect();

    std::thread::scope(|scope| {
        {
            let (app, group_path, members) = (&app, &group_path, &members);
            scope.spawn(move || {
                for round in 0..CHANGES_PER_THREAD {
                    let name = format!("Busy {round}");
                    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members});
                    let response = app.put(group_path, &body);
                    assert_eq!(response.status(), 200, "group PUT: {}", response.text().unwrap_or_default());
                }
            });
        }
        for (renamer, mine) in users.chunks(3).enumerate() {
            let app = &app;
            scope.spawn(move || {
                for round in 0..CHANGES_PER_THREAD {
                    for id in mine {
                        let rename =
                            json!([{"op": "replace", "path": "displayName", "value": format!("{renamer}-{round}")}]);
                        let response = app.patch(&format!("/Users/{id}"), &patch_op(rename));
                        assert_eq!(response.status(), 200, "user rename: {}", response.text().unwrap_or_default());
                    }
                }
            });
        }
    });

    let group: serde_json::Value = app.get(&format!("/Groups/{}", id_of(&group))).json().unwrap();
    assert_eq!(app.member_ids(&id_of(&group)).len(), users.len());
    for id in &users {
        let user: serde_json::Value = app.get(&format!("/Users/{id}")).json().unwrap();
        assert_eq!(user["groups"][0]["display"], group["displayName"], "{user}");
    }
}

#[test]
fn adding_one_member_to_a_group_of_100000_members_inserts_one_row() {
    let app = TestApp::spawn();
    let group = app.create_group("Everyone", &[]);
    let newcomer = app.create_user("newcomer");
    let group_id = id_of(&group);
    seed_members(&app.db, &group_id);
    assert_eq!(app.db.count(&format!("SELECT COUNT(*) AS n FROM memberships WHERE group_id = '{group_id}'")), 100_000);

    let path = format!("/Groups/{group_id}?excludedAttributes=members");
    let response =
        app.patch(&path, &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id_of(&newcomer)}]}])));
    assert_eq!(response.status(), 200);
    assert!(response.json::<serde_json::Value>().unwrap().get("members").is_none());

    let members = format!("SELECT COUNT(*) AS n FROM memberships WHERE group_id = '{group_id}'");
    assert_eq!(app.db.count(&members), SEEDED_MEMBERS as i64 + 1);
    let written = format!("{members} AND created <> '{SEEDED_AT}'");
    assert_eq!(app.db.count(&written), 1, "only the new membership row is written");
    let newcomer_row = format!("{written} AND member_id = '{}'", id_of(&newcomer));
    assert_eq!(app.db.count(&newcomer_row), 1);

    let newcomer_view = app.get(&format!("/Users/{}", id_of(&newcomer))).json::<serde_json::Value>().unwrap();
    assert_eq!(newcomer_view["groups"][0]["value"], group_id.as_str());
}

/// Writes 100,000 users of tenant `acme` and their memberships of `group_id` straight into the
/// database (over HTTP this would take minutes), all stamped [`SEEDED_AT`].
fn seed_members(db: &TestDatabase, group_id: &str) {
    let user_data = |i: &str| format!("'{{\"schemas\":[\"{USER_SCHEMA}\"],\"userName\":\"seed' || {i} || '\"}}'");
    let (users, memberships) = if db.is_postgres() {
        let series = format!("FROM generate_series(1, {SEEDED_MEMBERS}) AS s(i)");
        (
            format!(
                "INSERT INTO scim_users (id, tenant_id, user_name, user_name_lower, active, data, version, created, last_modified) \
                 SELECT 'seed-' || i, 'acme', 'seed' || i, 'seed' || i, 1, ({})::jsonb, 1, '{SEEDED_AT}', '{SEEDED_AT}' {series}",
                user_data("i")
            ),
            format!(
                "INSERT INTO memberships (tenant_id, group_id, member_id, member_type, source, created) \
                 SELECT 'acme', '{group_id}', 'seed-' || i, 'User', 'scim', '{SEEDED_AT}' {series}"
            ),
        )
    } else {
        let series =
            format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {SEEDED_MEMBERS})");
        (
            format!(
                "{series} INSERT INTO scim_users (id, tenant_id, user_name, user_name_lower, active, data, version, created, last_modified) \
                 SELECT 'seed-' || i, 'acme', 'seed' || i, 'seed' || i, 1, {}, 1, '{SEEDED_AT}', '{SEEDED_AT}' FROM s",
                user_data("i")
            ),
            format!(
                "{series} INSERT INTO memberships (tenant_id, group_id, member_id, member_type, source, created) \
                 SELECT 'acme', '{group_id}', 'seed-' || i, 'User', 'scim', '{SEEDED_AT}' FROM s"
            ),
        )
    };
    execute(db, &format!("{users}; {memberships};"));
}

pub fn execute(db: &TestDatabase, sql: &str) {
    if db.is_postgres() {
        PgConnection::establish(&db.url).unwrap().batch_execute(sql).unwrap();
    } else {
        SqliteConnection::establish(&db.url).unwrap().batch_execute(sql).unwrap();
    }
}
