//! New versions for the resources whose representation another write changed: a user shows the
//! groups it belongs to, a group shows its members with their names. A membership change, a
//! rename or a delete therefore changes the ETag (RFC 7644 §3.14) of the resources on the other
//! side, in the same transaction and by set-based statements, so a conditional GET never
//! answers 304 for a stale `groups` or `members`.

use chrono::Utc;

use super::repository::{format_timestamp, SqlRepository};
use super::sql::Sql;
use super::StoreResult;
use crate::tenant::TenantId;

impl SqlRepository<'_> {
    /// `UPDATE <table> SET version = version + 1, last_modified = now WHERE tenant_id = ? AND id IN (`
    /// (the caller closes the parenthesis).
    fn bump_versions_where_id_in(&self, table: &str, tenant: &TenantId) -> Sql {
        let mut sql = self.sql();
        sql.push("UPDATE ").push(table).push(" SET version = version + 1, last_modified = ");
        sql.bind_text(format_timestamp(Utc::now())).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id IN (");
        sql
    }

    /// The users among `member_ids` joined or left a group: their `groups` changed.
    pub(super) fn bump_users(&mut self, tenant: &TenantId, member_ids: &[&str]) -> StoreResult<()> {
        if member_ids.is_empty() {
            return Ok(());
        }
        let mut sql = self.bump_versions_where_id_in("scim_users", tenant);
        sql.bind_list(member_ids.iter().copied()).push(")");
        sql.execute(&mut self.conn)?;
        Ok(())
    }

    /// The users that are members of `group_id` (run before its memberships go).
    pub(super) fn bump_members_of(&mut self, tenant: &TenantId, group_id: &str) -> StoreResult<()> {
        let mut sql = self.bump_versions_where_id_in("scim_users", tenant);
        sql.push("SELECT member_id FROM memberships WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND group_id = ").bind_text(group_id).push(")");
        sql.execute(&mut self.conn)?;
        Ok(())
    }

    /// The groups that list `member_id` among their members (run before that member goes).
    pub(super) fn bump_groups_containing(&mut self, tenant: &TenantId, member_id: &str) -> StoreResult<()> {
        let mut sql = self.bump_versions_where_id_in("scim_groups", tenant);
        sql.push("SELECT group_id FROM memberships WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND member_id = ").bind_text(member_id).push(")");
        sql.execute(&mut self.conn)?;
        Ok(())
    }

    /// Before a group update: when its `displayName` changes, the `groups[].display` of its users
    /// and the `members[].display` of the groups containing it change too.
    pub(super) fn bump_if_group_renamed(&mut self, tenant: &TenantId, id: &str, display_name: &str) -> StoreResult<()> {
        if !self.differs(tenant, "scim_groups", id, "display_name <> ", display_name, None)? {
            return Ok(());
        }
        self.bump_members_of(tenant, id)?;
        self.bump_groups_containing(tenant, id)
    }

    /// Before a user update: whether its `userName` or `displayName` changes, which may change the
    /// `members[].display` of the groups containing it (bumped by the caller after the update, so
    /// that every write locks users before groups).
    pub(super) fn user_renamed(
        &mut self,
        tenant: &TenantId,
        id: &str,
        user_name: &str,
        display_name: Option<&str>,
    ) -> StoreResult<bool> {
        self.differs(tenant, "scim_users", id, "user_name <> ", user_name, Some(display_name))
    }

    /// Whether the stored row has another name than the one about to be written.
    fn differs(
        &mut self,
        tenant: &TenantId,
        table: &str,
        id: &str,
        name_differs: &str,
        name: &str,
        display_name: Option<Option<&str>>,
    ) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("SELECT id AS value FROM ").push(table).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id).push(" AND (").push(name_differs).bind_text(name);
        if let Some(display_name) = display_name {
            sql.push(" OR COALESCE(display_name, '') <> ").bind_text(display_name.unwrap_or_default());
        }
        sql.push(")");
        Ok(sql.first::<IdRow>(&mut self.conn)?.is_some())
    }
}

#[derive(diesel::QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[expect(dead_code, reason = "only whether a row exists matters")]
    value: String,
}
