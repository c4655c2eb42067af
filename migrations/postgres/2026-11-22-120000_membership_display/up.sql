-- The display a client sent for a member (RFC 7643 §4.2: member sub-attributes are immutable);
-- NULL shows the member's current name.
ALTER TABLE memberships ADD COLUMN display TEXT;
