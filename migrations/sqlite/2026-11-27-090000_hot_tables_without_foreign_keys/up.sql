-- The tables an import writes a row to per person lose their foreign keys, as on PostgreSQL
-- (see its migration): the store deletes a user's e-mail rows, invitations and their messages,
-- and a group's memberships itself (`SqlRepository::delete`). SQLite cannot drop a constraint,
-- so each table is rebuilt; outbox first, as dropping the old invitations table would otherwise
-- delete the messages that reference it.
CREATE TABLE outbox_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    dedupe_key TEXT NOT NULL,
    invitation_id TEXT,
    redact TEXT,
    link TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    locked_by TEXT,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
INSERT INTO outbox_rebuilt (id, tenant_id, kind, recipient, subject, body_text, body_html, dedupe_key, invitation_id, redact, link, status, attempts, next_attempt_at, last_error, locked_by, locked_until, created_at, sent_at) SELECT id, tenant_id, kind, recipient, subject, body_text, body_html, dedupe_key, invitation_id, redact, link, status, attempts, next_attempt_at, last_error, locked_by, locked_until, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE UNIQUE INDEX outbox_dedupe_key ON outbox (dedupe_key);
CREATE INDEX outbox_invitation ON outbox (invitation_id);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';

CREATE TABLE invitations_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
INSERT INTO invitations_rebuilt (id, tenant_id, user_id, token_hash, expires_at, used_at, revoked_at, created_at) SELECT id, tenant_id, user_id, token_hash, expires_at, used_at, revoked_at, created_at FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_rebuilt RENAME TO invitations;
CREATE UNIQUE INDEX invitations_token_hash ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_open_per_user ON invitations (tenant_id, user_id)
    WHERE used_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_user ON invitations (tenant_id, user_id);

CREATE TABLE user_emails_rebuilt (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    value_lower TEXT NOT NULL,
    email_type TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0
);
INSERT INTO user_emails_rebuilt (tenant_id, user_id, value_lower, email_type, is_primary) SELECT tenant_id, user_id, value_lower, email_type, is_primary FROM user_emails;
DROP TABLE user_emails;
ALTER TABLE user_emails_rebuilt RENAME TO user_emails;
CREATE INDEX user_emails_tenant_value ON user_emails (tenant_id, value_lower);
CREATE INDEX user_emails_user ON user_emails (user_id);

CREATE TABLE memberships_rebuilt (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    member_type TEXT NOT NULL,
    source TEXT NOT NULL,
    created TEXT NOT NULL,
    display TEXT,
    PRIMARY KEY (group_id, member_id)
);
INSERT INTO memberships_rebuilt (tenant_id, group_id, member_id, member_type, source, created, display) SELECT tenant_id, group_id, member_id, member_type, source, created, display FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_rebuilt RENAME TO memberships;
CREATE INDEX memberships_member ON memberships (member_id, group_id);

CREATE TABLE import_rows_rebuilt (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    row_number BIGINT NOT NULL,
    action TEXT NOT NULL,
    user_id TEXT,
    matched_version BIGINT,
    operation TEXT,
    cells TEXT,
    invited INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (import_id, row_number)
);
INSERT INTO import_rows_rebuilt (tenant_id, import_id, row_number, action, user_id, matched_version, operation, cells, invited) SELECT tenant_id, import_id, row_number, action, user_id, matched_version, operation, cells, invited FROM import_rows;
DROP TABLE import_rows;
ALTER TABLE import_rows_rebuilt RENAME TO import_rows;
CREATE INDEX import_rows_user ON import_rows (import_id, user_id);

CREATE TABLE import_errors_rebuilt (
    tenant_id TEXT NOT NULL,
    import_id TEXT NOT NULL,
    row_number BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    column_name TEXT,
    value TEXT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    severity TEXT NOT NULL,
    PRIMARY KEY (import_id, row_number, seq)
);
INSERT INTO import_errors_rebuilt (tenant_id, import_id, row_number, seq, column_name, value, code, message, severity) SELECT tenant_id, import_id, row_number, seq, column_name, value, code, message, severity FROM import_errors;
DROP TABLE import_errors;
ALTER TABLE import_errors_rebuilt RENAME TO import_errors;
