ALTER TABLE memberships DROP COLUMN display;
