-- Users stored without 'active' were active (the column said 1) but showed no 'active'; filters
-- now read the document, so say it there (RFC 7643 §4.1.1).
UPDATE scim_users SET data = json_set(data, '$.active', json('true'))
WHERE json_type(data, '$.active') IS NULL OR json_type(data, '$.active') = 'null';
