-- Invitation mails are rendered when the outbox worker sends them, not when they are queued:
-- such a message keeps no subject or bodies, only its link (which holds the one-time token, as
-- the stored body did, and like `redact` is cleared once the message is settled). The worker
-- reads the greeting from the user and the expiry from the invitation at send time.
-- SQLite cannot drop NOT NULL in place, so the table is rebuilt (nothing references it).
CREATE TABLE outbox_new (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    dedupe_key TEXT NOT NULL,
    invitation_id TEXT REFERENCES invitations (id) ON DELETE CASCADE,
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
INSERT INTO outbox_new (id, tenant_id, kind, recipient, subject, body_text, body_html, dedupe_key, invitation_id, redact, status, attempts, next_attempt_at, last_error, locked_by, locked_until, created_at, sent_at) SELECT id, tenant_id, kind, recipient, subject, body_text, body_html, dedupe_key, invitation_id, redact, status, attempts, next_attempt_at, last_error, locked_by, locked_until, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE UNIQUE INDEX outbox_dedupe_key ON outbox (dedupe_key);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_invitation ON outbox (invitation_id);
