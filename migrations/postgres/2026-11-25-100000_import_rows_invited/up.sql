-- Whether a row queued an invitation (in a preview: would queue one). A preview writes no
-- invitations, so a later row of a person created earlier in the same preview reads here, from
-- the preview's own rows, that the person already counts as invited.
ALTER TABLE import_rows ADD COLUMN invited SMALLINT NOT NULL DEFAULT 0;
