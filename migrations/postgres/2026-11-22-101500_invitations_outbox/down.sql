DROP TABLE outbox;
DROP TABLE invitations;
DROP TABLE tenant_settings;
