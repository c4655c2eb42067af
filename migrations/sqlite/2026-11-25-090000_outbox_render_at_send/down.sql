-- Messages queued without bodies cannot be sent by the earlier code: they are cancelled, and
-- their token dropped.
CREATE TABLE outbox_old (
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
INSERT INTO outbox_old (id, tenant_id, kind, recipient, subject, body_text, body_html, dedupe_key, invitation_id, redact, status, attempts, next_attempt_at, last_error, locked_by, locked_until, created_at, sent_at)
SELECT id, tenant_id, kind, recipient, COALESCE(subject, ''), COALESCE(body_text, ''), body_html, dedupe_key,
       invitation_id, CASE WHEN body_text IS NULL THEN NULL ELSE redact END,
       CASE WHEN body_text IS NULL AND status = 'pending' THEN 'cancelled' ELSE status END,
       attempts, next_attempt_at, last_error, locked_by, locked_until, created_at, sent_at
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_old RENAME TO outbox;
CREATE UNIQUE INDEX outbox_dedupe_key ON outbox (dedupe_key);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_invitation ON outbox (invitation_id);
