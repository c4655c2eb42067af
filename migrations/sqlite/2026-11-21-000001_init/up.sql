-- Server-wide settings that every instance must share (the generated token-signing secret).
CREATE TABLE server_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- Revoked token ids: checked on every request so a revocation holds on every instance at once.
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY NOT NULL,
    revoked_at TEXT NOT NULL
);

-- A SCIM User. `data` is the canonical SCIM JSON without id/meta/password/groups; the columns
-- beside it are the indexed copies that filters, sorting and uniqueness use.
CREATE TABLE scim_users (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    user_name_lower TEXT NOT NULL,
    external_id TEXT,
    display_name TEXT,
    display_name_lower TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    data TEXT NOT NULL,
    password_hash TEXT,
    version BIGINT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL
);
CREATE UNIQUE INDEX users_tenant_user_name ON scim_users (tenant_id, user_name_lower);
CREATE INDEX users_tenant_external_id ON scim_users (tenant_id, external_id);
CREATE INDEX users_tenant_display_name ON scim_users (tenant_id, display_name_lower);
CREATE INDEX users_tenant_created ON scim_users (tenant_id, created, id);
CREATE INDEX users_tenant_last_modified ON scim_users (tenant_id, last_modified);

-- Every email address of every user, lowercased, so `emails.value eq` is an index lookup.
CREATE TABLE user_emails (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
    value_lower TEXT NOT NULL,
    email_type TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX user_emails_tenant_value ON user_emails (tenant_id, value_lower);
CREATE INDEX user_emails_user ON user_emails (user_id);

CREATE TABLE scim_groups (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    display_name TEXT NOT NULL,
    display_name_lower TEXT NOT NULL,
    external_id TEXT,
    data TEXT NOT NULL,
    version BIGINT NOT NULL,
    created TEXT NOT NULL,
    last_modified TEXT NOT NULL
);
CREATE INDEX groups_tenant_display_name ON scim_groups (tenant_id, display_name_lower);
CREATE INDEX groups_tenant_external_id ON scim_groups (tenant_id, external_id);
CREATE INDEX groups_tenant_created ON scim_groups (tenant_id, created, id);

-- Group membership, one row per (group, member), indexed both ways so that a 100,000-member
-- group is cheap to page and to change. `source` records who made the membership (scim, import).
CREATE TABLE memberships (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    source TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX memberships_member ON memberships (member_id, group_id);
