-- The tables an import writes a row to per person lose their foreign keys; the store deletes a
-- user's e-mail rows, invitations and their messages, and a group's memberships itself
-- (`SqlRepository::delete`), after the parent row, whose lock it then holds. Each foreign key
-- ran a trigger per inserted row that read and locked the parent: in a 20,000-row preview and
-- commit they were nearly half of PostgreSQL's CPU (6.8 + 11.0 s with them, 3.7 + 6.1 s
-- without). Imports are never deleted, so their rows and errors need no cascade. Writers that
-- add memberships lock the groups first, and a group's delete waits for that lock, so no
-- membership outlives its group.
ALTER TABLE user_emails DROP CONSTRAINT user_emails_user_id_fkey;
ALTER TABLE memberships DROP CONSTRAINT memberships_group_id_fkey;
ALTER TABLE invitations DROP CONSTRAINT invitations_user_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_invitation_id_fkey;
ALTER TABLE import_rows DROP CONSTRAINT import_rows_import_id_fkey;
ALTER TABLE import_errors DROP CONSTRAINT import_errors_import_id_fkey;
-- A user's delete finds its invitations (the cascade had no index and read them all).
CREATE INDEX invitations_user ON invitations (tenant_id, user_id);
