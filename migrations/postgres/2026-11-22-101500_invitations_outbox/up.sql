-- Per-tenant policy (e.g. who gets an invitation when users are imported), one row per key.
CREATE TABLE tenant_settings (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

-- One-time links to set a password. Only the SHA-256 of the token is kept. An invitation is
-- open while neither used nor revoked; at most one is open per user (the partial unique index),
-- so however many times a user is named, one invitation is outstanding.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES scim_users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX invitations_token_hash ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_open_per_user ON invitations (tenant_id, user_id)
    WHERE used_at IS NULL AND revoked_at IS NULL;

-- Messages waiting to be sent, written in the same transaction as what caused them and sent by
-- the outbox worker. `dedupe_key` stops a message from being queued twice; `locked_by` /
-- `locked_until` are a worker's lease; `redact` is the secret (a one-time token) scrubbed from
-- the stored bodies once the message is sent or has failed.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT,
    dedupe_key TEXT NOT NULL,
    invitation_id TEXT REFERENCES invitations (id) ON DELETE CASCADE,
    redact TEXT,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    locked_by TEXT,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE UNIQUE INDEX outbox_dedupe_key ON outbox (dedupe_key);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_invitation ON outbox (invitation_id);
