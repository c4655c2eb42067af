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

-- Planner statistics for a large tenant. Every index starts with tenant_id, and without
-- statistics SQLite takes `tenant_id = ?` for a selective test: it then walks a whole tenant in
-- creation order to answer `emails.value eq` or `members.value eq` rather than look the value
-- up and sort the few matches. These rows (the format ANALYZE writes: rows in the table, then
-- rows per distinct prefix of the index) say that a tenant holds most rows and that emails,
-- names and ids are nearly unique. Running ANALYZE later replaces them with measured figures.
ANALYZE server_settings;
DELETE FROM sqlite_stat1 WHERE tbl IN ('scim_users', 'user_emails', 'scim_groups', 'memberships');
INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('scim_users', 'sqlite_autoindex_scim_users_1', '1000000 1'),
    ('scim_users', 'users_tenant_user_name', '1000000 1000000 1'),
    ('scim_users', 'users_tenant_created', '1000000 1000000 2 1'),
    ('scim_users', 'users_tenant_external_id_order', '1000000 1000000 2 1 1'),
    ('scim_users', 'users_tenant_display_name_order', '1000000 1000000 5 1 1'),
    ('scim_users', 'users_tenant_last_modified_order', '1000000 1000000 2 1 1'),
    ('user_emails', 'user_emails_tenant_value', '1200000 1200000 1'),
    ('user_emails', 'user_emails_user', '1200000 2'),
    ('scim_groups', 'sqlite_autoindex_scim_groups_1', '10000 1'),
    ('scim_groups', 'groups_tenant_created', '10000 10000 1 1'),
    ('scim_groups', 'groups_tenant_external_id_order', '10000 10000 1 1 1'),
    ('scim_groups', 'groups_tenant_display_name_order', '10000 10000 1 1 1'),
    ('memberships', 'sqlite_autoindex_memberships_1', '1000000 100 1'),
    ('memberships', 'memberships_member', '1000000 5 1');
ANALYZE sqlite_schema;
