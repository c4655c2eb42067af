-- Users stored without 'active' were active (the column said 1) but showed no 'active'; filters
-- now read the document, so say it there (RFC 7643 §4.1.1).
UPDATE scim_users SET data = jsonb_set(data, '{active}', 'true'::jsonb)
WHERE data -> 'active' IS NULL OR data -> 'active' = 'null'::jsonb;
