DROP TABLE memberships;
DROP TABLE scim_groups;
DROP TABLE user_emails;
DROP TABLE scim_users;
DROP TABLE revoked_tokens;
DROP TABLE server_settings;
