-- Invitation mails are rendered when the outbox worker sends them, not when they are queued:
-- such a message keeps no subject or bodies, only its link (which holds the one-time token, as
-- the stored body did, and like `redact` is cleared once the message is settled). The worker
-- reads the greeting from the user and the expiry from the invitation at send time.
ALTER TABLE outbox ALTER COLUMN subject DROP NOT NULL;
ALTER TABLE outbox ALTER COLUMN body_text DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN link TEXT;
