DROP INDEX invitations_user;
ALTER TABLE user_emails ADD FOREIGN KEY (user_id) REFERENCES scim_users (id) ON DELETE CASCADE;
ALTER TABLE memberships ADD FOREIGN KEY (group_id) REFERENCES scim_groups (id) ON DELETE CASCADE;
ALTER TABLE invitations ADD FOREIGN KEY (user_id) REFERENCES scim_users (id) ON DELETE CASCADE;
ALTER TABLE outbox ADD FOREIGN KEY (invitation_id) REFERENCES invitations (id) ON DELETE CASCADE;
ALTER TABLE import_rows ADD FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE;
ALTER TABLE import_errors ADD FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE;
