-- Messages queued without bodies cannot be sent by the earlier code: cancel and scrub them.
UPDATE outbox SET status = 'cancelled', last_error = 'queued without a rendered body', redact = NULL
WHERE body_text IS NULL AND status = 'pending';
UPDATE outbox SET subject = '' WHERE subject IS NULL;
UPDATE outbox SET body_text = '' WHERE body_text IS NULL;
ALTER TABLE outbox DROP COLUMN link;
ALTER TABLE outbox ALTER COLUMN subject SET NOT NULL;
ALTER TABLE outbox ALTER COLUMN body_text SET NOT NULL;
