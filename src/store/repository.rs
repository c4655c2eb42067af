//! The SQL implementation of [`Repository`] shared by SQLite and PostgreSQL.

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;
use serde_json::Value;

use super::batches::{distinct_chunks, insert_keeps_prepared, CHUNK};
use super::connection::{Backend, DbConn};
use super::listing::{list_page, PageQuery};
use super::sql::{Cell, ColumnType, Sql};
use super::{
    GroupEntry, KeyedPage, ListQuery, MemberEntry, MembershipSource, NewMember, Page, Repository, ResourceWrite,
    StoreError, StoreResult, StoredResource,
};
use crate::scim::schema::{ResourceKind, SchemaRegistry};
use crate::tenant::TenantId;

/// Repository over one borrowed connection (inside or outside a transaction).
pub struct SqlRepository<'c> {
    pub(super) conn: DbConn<'c>,
    schemas: &'c SchemaRegistry,
}

/// A stored resource as selected (`id, data, version, created, last_modified`).
#[derive(QueryableByName)]
pub(super) struct ResourceRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    data: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    created: String,
    #[diesel(sql_type = Text)]
    last_modified: String,
}

/// One text column selected `AS value`.
#[derive(QueryableByName)]
pub(super) struct TextRow {
    #[diesel(sql_type = Text)]
    pub(super) value: String,
}

/// Two text columns selected `AS name` and `AS value`.
#[derive(QueryableByName)]
pub(super) struct NamedText {
    #[diesel(sql_type = Text)]
    pub(super) name: String,
    #[diesel(sql_type = Text)]
    pub(super) value: String,
}

#[derive(QueryableByName)]
struct OptTextRow {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

#[derive(QueryableByName)]
struct MemberRow {
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Text)]
    member_id: String,
    #[diesel(sql_type = Text)]
    member_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    display: Option<String>,
}

#[derive(QueryableByName)]
struct KindRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

#[derive(QueryableByName)]
struct GroupOfRow {
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    group_id: String,
    #[diesel(sql_type = Text)]
    display: String,
}

/// Fixed-width UTC timestamps, so that text order is time order on both backends.
pub(super) fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(super) fn parse_timestamp(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Database(format!("bad timestamp {text:?} in database: {e}")))
}

/// A JSON document the database holds that does not parse.
pub(super) fn bad_json(error: serde_json::Error) -> StoreError {
    StoreError::Database(format!("bad JSON in database: {error}"))
}

impl ResourceRow {
    pub(super) fn created(&self) -> &str {
        &self.created
    }

    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn into_resource(self) -> StoreResult<StoredResource> {
        Ok(StoredResource {
            data: serde_json::from_str(&self.data).map_err(bad_json)?,
            id: self.id,
            version: self.version,
            created: parse_timestamp(&self.created)?,
            last_modified: parse_timestamp(&self.last_modified)?,
        })
    }
}

pub(super) fn table(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "scim_users",
        ResourceKind::Group => "scim_groups",
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

fn kind_from_name(name: &str) -> ResourceKind {
    if name == "Group" {
        ResourceKind::Group
    } else {
        ResourceKind::User
    }
}

fn string_at<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str)
}

/// The indexed copies of a user's attributes.
struct UserColumns<'a> {
    user_name: &'a str,
    external_id: Option<&'a str>,
    display_name: Option<&'a str>,
    active: bool,
}

impl<'a> UserColumns<'a> {
    fn of(data: &'a Value) -> UserColumns<'a> {
        UserColumns {
            user_name: string_at(data, "userName").unwrap_or_default(),
            external_id: string_at(data, "externalId"),
            display_name: string_at(data, "displayName"),
            active: data.get("active").and_then(Value::as_bool).unwrap_or(true),
        }
    }
}

/// Case-insensitive comparisons use Unicode lowercase computed here, identically for both
/// backends (SQLite's `lower()` only folds ASCII).
pub(super) fn fold(text: &str) -> String {
    text.to_lowercase()
}

impl<'c> SqlRepository<'c> {
    pub fn new(conn: DbConn<'c>, schemas: &'c SchemaRegistry) -> SqlRepository<'c> {
        SqlRepository { conn, schemas }
    }

    fn backend(&self) -> Backend {
        match self.conn {
            DbConn::Sqlite(_) => Backend::Sqlite,
            DbConn::Postgres(_) => Backend::Postgres,
        }
    }

    pub(super) fn sql(&self) -> Sql {
        Sql::new(self.backend())
    }

    fn push_select_resources(sql: &mut Sql, kind: ResourceKind) {
        sql.push("SELECT id, ").json_column("data").push(" AS data, version, created, last_modified FROM ");
        sql.push(table(kind));
    }

    /// Deletes the tenant's rows of `table` whose `column` is `value`; returns how many.
    pub(super) fn delete_rows_naming(
        &mut self,
        tenant: &TenantId,
        table: &str,
        column: &str,
        value: &str,
    ) -> StoreResult<usize> {
        let mut sql = self.sql();
        sql.push("DELETE FROM ").push(table).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND ").push(column).push(" = ").bind_text(value).reuse_prepared();
        Ok(sql.execute(&mut self.conn)?)
    }

    /// Rewrites the indexed copies of an updated user's emails.
    fn replace_emails(&mut self, tenant: &TenantId, user_id: &str, write: &ResourceWrite) -> StoreResult<()> {
        self.delete_rows_naming(tenant, "user_emails", "user_id", user_id)?;
        self.insert_emails(tenant, &[(user_id, write)])
    }

    /// Indexes the emails of new or updated users, in multi-row inserts of up to [`CHUNK`] rows.
    fn insert_emails(&mut self, tenant: &TenantId, users: &[(&str, &ResourceWrite)]) -> StoreResult<()> {
        let rows: Vec<(&str, &str, Option<&str>, bool)> = users
            .iter()
            .flat_map(|(user_id, write)| {
                let emails = write.data.get("emails").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                emails.iter().filter_map(|e| {
                    let value = e.get("value")?.as_str()?;
                    let primary = e.get("primary").and_then(Value::as_bool).unwrap_or(false);
                    Some((*user_id, value, e.get("type").and_then(Value::as_str), primary))
                })
            })
            .collect();
        const COLUMNS: [(&str, ColumnType); 5] = [
            ("tenant_id", ColumnType::Text),
            ("user_id", ColumnType::Text),
            ("value_lower", ColumnType::Text),
            ("email_type", ColumnType::Text),
            ("is_primary", ColumnType::SmallInt),
        ];
        for chunk in rows.chunks(CHUNK) {
            let folded: Vec<String> = chunk.iter().map(|(_, value, _, _)| fold(value)).collect();
            let mut insert = self.sql();
            insert.insert_rows(
                "user_emails",
                &COLUMNS,
                chunk.iter().zip(&folded).map(|((user_id, _, kind, primary), value)| {
                    [
                        Cell::Text(tenant.as_str()),
                        Cell::Text(user_id),
                        Cell::Text(value),
                        Cell::OptText(*kind),
                        Cell::Int(i64::from(*primary)),
                    ]
                }),
            );
            if insert_keeps_prepared(chunk.len()) {
                insert.reuse_prepared();
            }
            insert.execute(&mut self.conn)?;
        }
        Ok(())
    }

    /// `INSERT INTO <table> ... <one row per resource> ON CONFLICT DO NOTHING RETURNING <row>`:
    /// a row that any unique index refuses (the id, a user's `(tenant, userName)`) is skipped,
    /// without an error that would abort PostgreSQL's transaction. The rows come back as a read
    /// returns them (jsonb reorders keys; timestamps at stored precision).
    fn insert_resources(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        resources: &[(&str, &ResourceWrite)],
        now: &str,
    ) -> Sql {
        const USER_COLUMNS: [(&str, ColumnType); 13] = [
            ("id", ColumnType::Text),
            ("tenant_id", ColumnType::Text),
            ("user_name", ColumnType::Text),
            ("user_name_lower", ColumnType::Text),
            ("external_id", ColumnType::Text),
            ("display_name", ColumnType::Text),
            ("display_name_lower", ColumnType::Text),
            ("active", ColumnType::SmallInt),
            ("data", ColumnType::Jsonb),
            ("password_hash", ColumnType::Text),
            ("version", ColumnType::BigInt),
            ("created", ColumnType::Text),
            ("last_modified", ColumnType::Text),
        ];
        const GROUP_COLUMNS: [(&str, ColumnType); 9] = [
            ("id", ColumnType::Text),
            ("tenant_id", ColumnType::Text),
            ("display_name", ColumnType::Text),
            ("display_name_lower", ColumnType::Text),
            ("external_id", ColumnType::Text),
            ("data", ColumnType::Jsonb),
            ("version", ColumnType::BigInt),
            ("created", ColumnType::Text),
            ("last_modified", ColumnType::Text),
        ];
        let mut sql = self.sql();
        let tenant = tenant.as_str();
        match kind {
            ResourceKind::User => {
                let columns: Vec<(UserColumns, String, Option<String>)> = resources
                    .iter()
                    .map(|(_, write)| {
                        let columns = UserColumns::of(&write.data);
                        let (user_name, display_name) = (fold(columns.user_name), columns.display_name.map(fold));
                        (columns, user_name, display_name)
                    })
                    .collect();
                let rows = resources.iter().zip(&columns).map(|((id, write), (columns, user_name, display_name))| {
                    [
                        Cell::Text(id),
                        Cell::Text(tenant),
                        Cell::Text(columns.user_name),
                        Cell::Text(user_name),
                        Cell::OptText(columns.external_id),
                        Cell::OptText(columns.display_name),
                        Cell::OptText(display_name.as_deref()),
                        Cell::Int(i64::from(columns.active)),
                        Cell::Json(&write.data),
                        Cell::OptText(write.password_hash.as_deref()),
                        Cell::Int(1),
                        Cell::Text(now),
                        Cell::Text(now),
                    ]
                });
                sql.insert_rows("scim_users", &USER_COLUMNS, rows);
            }
            ResourceKind::Group => {
                let names: Vec<(&str, String)> = resources
                    .iter()
                    .map(|(_, write)| {
                        let display_name = string_at(&write.data, "displayName").unwrap_or_default();
                        (display_name, fold(display_name))
                    })
                    .collect();
                let rows = resources.iter().zip(&names).map(|((id, write), (display_name, folded))| {
                    [
                        Cell::Text(id),
                        Cell::Text(tenant),
                        Cell::Text(display_name),
                        Cell::Text(folded),
                        Cell::OptText(string_at(&write.data, "externalId")),
                        Cell::Json(&write.data),
                        Cell::Int(1),
                        Cell::Text(now),
                        Cell::Text(now),
                    ]
                });
                sql.insert_rows("scim_groups", &GROUP_COLUMNS, rows);
            }
        }
        sql.push(" ON CONFLICT DO NOTHING RETURNING id AS value");
        if insert_keeps_prepared(resources.len()) {
            sql.reuse_prepared();
        }
        sql
    }

    fn update_user(
        &mut self,
        tenant: &TenantId,
        id: &str,
        expected_version: i64,
        write: &ResourceWrite,
        now: &str,
    ) -> StoreResult<usize> {
        let columns = UserColumns::of(&write.data);
        let mut sql = self.sql();
        sql.push("UPDATE scim_users SET user_name = ").bind_text(columns.user_name);
        sql.push(", user_name_lower = ").bind_text(fold(columns.user_name));
        sql.push(", external_id = ").bind_opt(columns.external_id);
        sql.push(", display_name = ").bind_opt(columns.display_name);
        sql.push(", display_name_lower = ").bind_opt(columns.display_name.map(fold));
        sql.push(", active = ").bind_int(i64::from(columns.active));
        sql.push(", data = ").bind_json(&write.data);
        if let Some(hash) = &write.password_hash {
            sql.push(", password_hash = ").bind_text(hash.as_str());
        }
        sql.push(", version = version + 1, last_modified = ").bind_text(now);
        sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id).push(" AND version = ").bind_int(expected_version);
        let written = sql.reuse_prepared().execute(&mut self.conn)?;
        if written == 1 {
            self.replace_emails(tenant, id, write)?;
        }
        Ok(written)
    }

    fn update_group(
        &mut self,
        tenant: &TenantId,
        id: &str,
        expected_version: i64,
        write: &ResourceWrite,
        now: &str,
    ) -> StoreResult<usize> {
        let display_name = string_at(&write.data, "displayName").unwrap_or_default();
        let mut sql = self.sql();
        sql.push("UPDATE scim_groups SET display_name = ").bind_text(display_name);
        sql.push(", display_name_lower = ").bind_text(fold(display_name));
        sql.push(", external_id = ").bind_opt(string_at(&write.data, "externalId"));
        sql.push(", data = ").bind_json(&write.data);
        sql.push(", version = version + 1, last_modified = ").bind_text(now);
        sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id).push(" AND version = ").bind_int(expected_version);
        let renamed = self.group_renamed(tenant, id, display_name)?;
        let written = sql.reuse_prepared().execute(&mut self.conn)?;
        if renamed && written == 1 {
            self.bump_after_group_rename(tenant, id)?;
        }
        Ok(written)
    }

    /// After an update that touched no row: tell a concurrent change from a missing row.
    fn missed_update(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreError {
        match self.get(tenant, kind, id) {
            Ok(Some(_)) => StoreError::VersionMismatch,
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }

    fn fetch(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreResult<StoredResource> {
        self.get(tenant, kind, id)?.ok_or(StoreError::NotFound)
    }
}

impl Repository for SqlRepository<'_> {
    fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        let mut sql = self.sql();
        sql.push("SELECT value FROM server_settings WHERE key = ").bind_text(key).reuse_prepared();
        Ok(sql.first::<TextRow>(&mut self.conn)?.map(|r| r.value))
    }

    fn insert_setting_if_absent(&mut self, key: &str, value: &str) -> StoreResult<()> {
        let mut sql = self.sql();
        sql.push("INSERT INTO server_settings (key, value) VALUES (").bind_text(key).push(", ");
        sql.bind_text(value).push(") ON CONFLICT (key) DO NOTHING");
        sql.execute(&mut self.conn)?;
        Ok(())
    }

    fn revoke_token(&mut self, jti: &str) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("INSERT INTO revoked_tokens (jti, revoked_at) VALUES (").bind_text(jti).push(", ");
        sql.bind_text(format_timestamp(Utc::now())).push(") ON CONFLICT (jti) DO NOTHING");
        Ok(sql.execute(&mut self.conn)? == 1)
    }

    fn is_token_revoked(&mut self, jti: &str) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("SELECT jti AS value FROM revoked_tokens WHERE jti = ").bind_text(jti).reuse_prepared();
        Ok(sql.first::<TextRow>(&mut self.conn)?.is_some())
    }

    fn get_many(&mut self, tenant: &TenantId, kind: ResourceKind, ids: &[&str]) -> StoreResult<Vec<StoredResource>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in distinct_chunks(ids.iter().copied()) {
            let mut sql = self.sql();
            sql.push_matching("id", &chunk, |sql| {
                Self::push_select_resources(sql, kind);
                sql.push(" WHERE tenant_id = ").bind_text(tenant.as_str());
            });
            for row in sql.load::<ResourceRow>(&mut self.conn)? {
                found.push(row.into_resource()?);
            }
        }
        Ok(found)
    }

    fn insert_many(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        resources: &[(&str, &ResourceWrite)],
    ) -> StoreResult<Vec<StoredResource>> {
        // A repeated id is offered once (its first resource), so each id returned names one write.
        let mut offered_ids = HashSet::new();
        let offered: Vec<(&str, &ResourceWrite)> =
            resources.iter().copied().filter(|(id, _)| offered_ids.insert(*id)).collect();
        let now = format_timestamp(Utc::now());
        let mut inserted = HashSet::new();
        for chunk in offered.chunks(CHUNK) {
            let sql = self.insert_resources(tenant, kind, chunk, &now);
            inserted.extend(sql.load::<TextRow>(&mut self.conn)?.into_iter().map(|row| row.value));
        }
        let offered: Vec<(&str, &ResourceWrite)> =
            offered.into_iter().filter(|(id, _)| inserted.contains(*id)).collect();
        if kind == ResourceKind::User {
            self.insert_emails(tenant, &offered)?;
        }
        // Built from the writes rather than read back: a stored resource is what was written, at
        // version 1, and parsing each one's JSON again cost more than its insert.
        let now = parse_timestamp(&now)?;
        Ok(offered
            .into_iter()
            .map(|(id, write)| StoredResource {
                id: id.to_string(),
                data: write.data.clone(),
                version: 1,
                created: now,
                last_modified: now,
            })
            .collect())
    }

    fn update(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        expected_version: i64,
        write: &ResourceWrite,
    ) -> StoreResult<StoredResource> {
        let now = format_timestamp(Utc::now());
        let written = match kind {
            ResourceKind::User => self.update_user(tenant, id, expected_version, write, &now)?,
            ResourceKind::Group => self.update_group(tenant, id, expected_version, write, &now)?,
        };
        if written == 0 {
            return Err(self.missed_update(tenant, kind, id));
        }
        self.fetch(tenant, kind, id)
    }

    fn touch(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreResult<StoredResource> {
        let mut sql = self.sql();
        sql.push("UPDATE ").push(table(kind)).push(" SET version = version + 1, last_modified = ");
        sql.bind_text(format_timestamp(Utc::now())).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id).reuse_prepared();
        if sql.execute(&mut self.conn)? == 0 {
            return Err(StoreError::NotFound);
        }
        self.fetch(tenant, kind, id)
    }

    fn delete(&mut self, tenant: &TenantId, kind: ResourceKind, id: &str) -> StoreResult<()> {
        if kind == ResourceKind::Group {
            self.lock_group(tenant, id)?;
        }
        self.bump_groups_containing(tenant, id)?;
        if kind == ResourceKind::Group {
            self.bump_members_of(tenant, id)?;
        }
        let mut sql = self.sql();
        sql.push("DELETE FROM ").push(table(kind)).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id);
        if sql.execute(&mut self.conn)? == 0 {
            return Err(StoreError::NotFound);
        }
        // What hangs off the resource goes after it, by hand: those tables have no foreign keys
        // (migration `hot_tables_without_foreign_keys`). On PostgreSQL the delete above waited
        // for any writer holding the row's lock, so these statements see what that writer added.
        // A writer that holds no such lock (an invitation for a user it did not write) can still
        // commit after them: the outbox worker cancels that message, as its user no longer exists.
        match kind {
            ResourceKind::User => {
                let mut messages = self.sql();
                messages.push("DELETE FROM outbox WHERE tenant_id = ").bind_text(tenant.as_str());
                messages.push(" AND invitation_id IN (SELECT id FROM invitations WHERE tenant_id = ");
                messages.bind_text(tenant.as_str()).push(" AND user_id = ").bind_text(id).push(")");
                messages.reuse_prepared().execute(&mut self.conn)?;
                self.delete_rows_naming(tenant, "invitations", "user_id", id)?;
                self.delete_rows_naming(tenant, "user_emails", "user_id", id)?;
            }
            ResourceKind::Group => {
                self.delete_rows_naming(tenant, "memberships", "group_id", id)?;
            }
        }
        self.delete_rows_naming(tenant, "memberships", "member_id", id)?;
        Ok(())
    }

    fn list(&mut self, tenant: &TenantId, kind: ResourceKind, query: &ListQuery) -> StoreResult<Page> {
        let mut page = PageQuery::first(query.filter.clone(), query.sort.clone(), query.count);
        page.skip = query.start_index.saturating_sub(1);
        page.count_total = true;
        let page = self.list_page(tenant, kind, &page)?;
        let resources = page.rows.into_iter().map(|row| row.resource).collect();
        Ok(Page { total_results: page.total_results.unwrap_or(0), resources })
    }

    fn list_page(&mut self, tenant: &TenantId, kind: ResourceKind, query: &PageQuery) -> StoreResult<KeyedPage> {
        list_page(&mut self.conn, self.schemas, tenant, kind, query)
    }

    fn password_hash(&mut self, tenant: &TenantId, user_id: &str) -> StoreResult<Option<String>> {
        let mut sql = self.sql();
        sql.push("SELECT password_hash AS value FROM scim_users WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(user_id).reuse_prepared();
        Ok(sql.first::<OptTextRow>(&mut self.conn)?.and_then(|r| r.value))
    }

    fn resolve_members(&mut self, tenant: &TenantId, ids: &[String]) -> StoreResult<Vec<NewMember>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut sql = self.sql();
            sql.push("SELECT id, 'User' AS kind FROM scim_users WHERE tenant_id = ").bind_text(tenant.as_str());
            sql.push(" AND id IN (").bind_list(chunk.iter().map(String::as_str)).push(")");
            sql.push(" UNION ALL SELECT id, 'Group' AS kind FROM scim_groups WHERE tenant_id = ")
                .bind_text(tenant.as_str());
            sql.push(" AND id IN (").bind_list(chunk.iter().map(String::as_str)).push(")");
            found.extend(sql.load::<KindRow>(&mut self.conn)?.into_iter().map(|r| NewMember {
                kind: kind_from_name(&r.kind),
                id: r.id,
                display: None,
            }));
        }
        Ok(found)
    }

    fn add_memberships(
        &mut self,
        tenant: &TenantId,
        memberships: &[(&str, NewMember)],
        source: MembershipSource,
        members_are_new: bool,
    ) -> StoreResult<Vec<(String, String)>> {
        if memberships.is_empty() {
            return Ok(Vec::new());
        }
        let mut groups: Vec<&str> = memberships.iter().map(|(group, _)| *group).collect();
        groups.sort_unstable();
        self.lock_groups(tenant, &groups)?;
        let now = format_timestamp(Utc::now());
        let mut inserted = HashSet::new();
        const COLUMNS: [(&str, ColumnType); 7] = [
            ("tenant_id", ColumnType::Text),
            ("group_id", ColumnType::Text),
            ("member_id", ColumnType::Text),
            ("member_type", ColumnType::Text),
            ("source", ColumnType::Text),
            ("created", ColumnType::Text),
            ("display", ColumnType::Text),
        ];
        for chunk in memberships.chunks(CHUNK) {
            let mut sql = self.sql();
            let rows = chunk.iter().map(|(group_id, member)| {
                [
                    Cell::Text(tenant.as_str()),
                    Cell::Text(group_id),
                    Cell::Text(&member.id),
                    Cell::Text(kind_name(member.kind)),
                    Cell::Text(source.as_str()),
                    Cell::Text(&now),
                    Cell::OptText(member.display.as_deref()),
                ]
            });
            sql.insert_rows("memberships", &COLUMNS, rows);
            sql.push(" ON CONFLICT (group_id, member_id) DO NOTHING RETURNING group_id AS name, member_id AS value");
            if insert_keeps_prepared(chunk.len()) {
                sql.reuse_prepared();
            }
            inserted.extend(sql.load::<NamedText>(&mut self.conn)?.into_iter().map(|row| (row.name, row.value)));
        }
        let mut added = Vec::with_capacity(inserted.len());
        let mut joined_users = Vec::new();
        for (group_id, member) in memberships {
            if let Some(pair) = inserted.take(&(group_id.to_string(), member.id.clone())) {
                if member.kind == ResourceKind::User {
                    joined_users.push(member.id.as_str());
                }
                added.push(pair);
            }
        }
        if !members_are_new {
            self.bump_users(tenant, &joined_users)?;
        }
        Ok(added)
    }

    fn remove_members(&mut self, tenant: &TenantId, group_id: &str, member_ids: &[String]) -> StoreResult<usize> {
        self.lock_group(tenant, group_id)?;
        let mut removed = 0;
        for chunk in member_ids.chunks(500) {
            let mut sql = self.sql();
            sql.push("DELETE FROM memberships WHERE tenant_id = ").bind_text(tenant.as_str());
            sql.push(" AND group_id = ").bind_text(group_id);
            sql.push(" AND member_id IN (").bind_list(chunk.iter().map(String::as_str)).push(")");
            let deleted = sql.execute(&mut self.conn)?;
            if deleted > 0 {
                self.bump_users(tenant, &chunk.iter().map(String::as_str).collect::<Vec<_>>())?;
            }
            removed += deleted;
        }
        Ok(removed)
    }

    fn remove_all_members(&mut self, tenant: &TenantId, group_id: &str) -> StoreResult<usize> {
        self.lock_group(tenant, group_id)?;
        self.bump_members_of(tenant, group_id)?;
        self.delete_rows_naming(tenant, "memberships", "group_id", group_id)
    }

    fn members_of(&mut self, tenant: &TenantId, group_ids: &[&str]) -> StoreResult<Vec<MemberEntry>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = self.sql();
        sql.push(
            "SELECT m.group_id, m.member_id, m.member_type, \
             COALESCE(m.display, u.display_name, u.user_name, g.display_name) AS display \
             FROM memberships m LEFT JOIN scim_users u ON u.id = m.member_id \
             LEFT JOIN scim_groups g ON g.id = m.member_id WHERE m.tenant_id = ",
        );
        sql.bind_text(tenant.as_str()).push(" AND m.group_id IN (").bind_list(group_ids.iter().copied());
        sql.push(") ORDER BY m.group_id, m.created, m.member_id");
        if group_ids.len() == 1 {
            sql.reuse_prepared();
        }
        Ok(sql
            .load::<MemberRow>(&mut self.conn)?
            .into_iter()
            .map(|r| MemberEntry {
                group_id: r.group_id,
                member_id: r.member_id,
                kind: kind_from_name(&r.member_type),
                display: r.display,
            })
            .collect())
    }

    fn groups_of(&mut self, tenant: &TenantId, user_ids: &[&str]) -> StoreResult<Vec<GroupEntry>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = self.sql();
        sql.push(
            "SELECT m.member_id AS user_id, g.id AS group_id, g.display_name AS display \
             FROM memberships m JOIN scim_groups g ON g.id = m.group_id WHERE m.tenant_id = ",
        );
        sql.bind_text(tenant.as_str()).push(" AND m.member_id IN (").bind_list(user_ids.iter().copied());
        sql.push(") ORDER BY m.member_id, g.display_name_lower, g.id");
        if user_ids.len() == 1 {
            sql.reuse_prepared();
        }
        Ok(sql
            .load::<GroupOfRow>(&mut self.conn)?
            .into_iter()
            .map(|r| GroupEntry { user_id: r.user_id, group_id: r.group_id, display: r.display })
            .collect())
    }
}
