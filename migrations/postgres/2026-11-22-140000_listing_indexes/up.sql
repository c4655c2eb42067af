-- Equality lookups that also deliver the listing order (created, id). Without them a planner
-- that knows no statistics walks a whole tenant in creation order to avoid a sort; with them
-- `externalId eq`, `displayName eq` and `meta.lastModified gt` read only their matches, already
-- ordered, and keyset (cursor) pages on these sort keys need no sort either. Each replaces the
-- index that is its prefix.
CREATE INDEX users_tenant_external_id_order ON scim_users (tenant_id, external_id, created, id);
CREATE INDEX users_tenant_display_name_order ON scim_users (tenant_id, display_name_lower, created, id);
CREATE INDEX users_tenant_last_modified_order ON scim_users (tenant_id, last_modified, created, id);
CREATE INDEX groups_tenant_external_id_order ON scim_groups (tenant_id, external_id, created, id);
CREATE INDEX groups_tenant_display_name_order ON scim_groups (tenant_id, display_name_lower, created, id);
DROP INDEX users_tenant_external_id;
DROP INDEX users_tenant_display_name;
DROP INDEX users_tenant_last_modified;
DROP INDEX groups_tenant_external_id;
DROP INDEX groups_tenant_display_name;
