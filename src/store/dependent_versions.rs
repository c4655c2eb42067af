//! New versions for the resources whose representation another write changed (RFC 7644 §3.14),
//! in the same transaction and by set-based statements: a user shows the groups it belongs to, so
//! a membership change, and the rename or delete of one of its groups, gives it a new version and
//! a conditional GET never answers 304 over a stale `groups`. A group's `members` lose a member
//! when the member is deleted, so that bumps the groups containing it.
//!
//! Not bumped: the groups of a user or group that is renamed, although `members[].display` shows
//! the new name. Every rename of a member of an all-staff group would otherwise lock and re-version
//! that group, serialising the tenant's profile updates and failing concurrent group writes.
//!
//! Rows are locked in one order on every path, so that two such writes never deadlock on
//! PostgreSQL: a group before the groups containing it, and groups before users. Membership
//! changes therefore lock their group first ([`SqlRepository::lock_group`]).

use chrono::Utc;

use super::batches::distinct_chunks;
use super::connection::DbConn;
use super::repository::{format_timestamp, SqlRepository, TextRow};
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

    /// The users among `member_ids` joined or left a group: their `groups` changed. Each user is
    /// bumped once however often it is named, in one statement per [`CHUNK`](super::batches::CHUNK) users.
    pub(super) fn bump_users(&mut self, tenant: &TenantId, member_ids: &[&str]) -> StoreResult<()> {
        for chunk in distinct_chunks(member_ids.iter().copied()) {
            let mut sql = self.bump_versions_where_id_in("scim_users", tenant);
            sql.bind_padded_list(&chunk).push(")");
            sql.execute(&mut self.conn)?;
        }
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

    /// Takes the group's row lock (PostgreSQL; SQLite writers hold the whole database), before
    /// any user row a membership change touches.
    pub(super) fn lock_group(&mut self, tenant: &TenantId, group_id: &str) -> StoreResult<()> {
        self.lock_groups(tenant, &[group_id])
    }

    /// Takes the row locks of `sorted_group_ids`, in id order so that two writers locking
    /// overlapping sets of groups queue instead of deadlocking.
    pub(super) fn lock_groups(&mut self, tenant: &TenantId, sorted_group_ids: &[&str]) -> StoreResult<()> {
        if matches!(self.conn, DbConn::Postgres(_)) {
            for chunk in distinct_chunks(sorted_group_ids.iter().copied()) {
                let mut sql = self.sql();
                sql.push("SELECT id AS value FROM scim_groups WHERE tenant_id = ").bind_text(tenant.as_str());
                sql.push(" AND id IN (").bind_padded_list(&chunk).push(") ORDER BY id FOR UPDATE");
                sql.load::<TextRow>(&mut self.conn)?;
            }
        }
        Ok(())
    }

    /// Before a group update: whether its `displayName` changes.
    pub(super) fn group_renamed(&mut self, tenant: &TenantId, id: &str, display_name: &str) -> StoreResult<bool> {
        self.differs(tenant, "scim_groups", id, "display_name <> ", display_name)
    }

    /// After a group rename: the `groups[].display` of its users changed.
    pub(super) fn bump_after_group_rename(&mut self, tenant: &TenantId, id: &str) -> StoreResult<()> {
        self.bump_members_of(tenant, id)
    }

    /// Whether the stored group has another `displayName` than the one about to be written.
    fn differs(
        &mut self,
        tenant: &TenantId,
        table: &str,
        id: &str,
        name_differs: &str,
        name: &str,
    ) -> StoreResult<bool> {
        let mut sql = self.sql();
        sql.push("SELECT id AS value FROM ").push(table).push(" WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND id = ").bind_text(id).push(" AND ").push(name_differs).bind_text(name);
        Ok(sql.first::<TextRow>(&mut self.conn)?.is_some())
    }
}
