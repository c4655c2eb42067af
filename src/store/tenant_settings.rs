//! Per-tenant settings (policies an administrator chooses for one tenant), as key/value rows.

use super::repository::{SqlRepository, TextRow};
use super::StoreResult;
use crate::tenant::TenantId;

/// Storage of per-tenant settings. A missing key means "use the default".
pub trait TenantSettingsRepository {
    fn tenant_setting(&mut self, tenant: &TenantId, key: &str) -> StoreResult<Option<String>>;
    /// Sets (inserts or replaces) one setting of one tenant.
    fn put_tenant_setting(&mut self, tenant: &TenantId, key: &str, value: &str) -> StoreResult<()>;
}

impl TenantSettingsRepository for SqlRepository<'_> {
    fn tenant_setting(&mut self, tenant: &TenantId, key: &str) -> StoreResult<Option<String>> {
        let mut sql = self.sql();
        sql.push("SELECT value FROM tenant_settings WHERE tenant_id = ").bind_text(tenant.as_str());
        sql.push(" AND key = ").bind_text(key);
        Ok(sql.reuse_prepared().first::<TextRow>(&mut self.conn)?.map(|row| row.value))
    }

    fn put_tenant_setting(&mut self, tenant: &TenantId, key: &str, value: &str) -> StoreResult<()> {
        let mut sql = self.sql();
        sql.push("INSERT INTO tenant_settings (tenant_id, key, value) VALUES (").bind_text(tenant.as_str());
        sql.push(", ").bind_text(key).push(", ").bind_text(value);
        sql.push(") ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value");
        sql.execute(&mut self.conn)?;
        Ok(())
    }
}
