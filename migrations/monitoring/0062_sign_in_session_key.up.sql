SET lock_timeout = '5s';

-- One sign-in row per browser sign-in, not per page load: the dashboard derives a key from
-- what stays the same across reloads of one signed-in browser (the identity and role, the
-- login's issue time for OIDC, the browser's XSRF token, the client's address) and stores
-- only its SHA-256. A reload finds its key and adds nothing (INSERT … ON CONFLICT DO
-- NOTHING, which needs INSERT only); a new login, another browser or another address adds
-- a row. Rows without a key (sign-outs, older rows) are never merged.
ALTER TABLE kasho_ops.sign_ins ADD COLUMN session_key text;
CREATE UNIQUE INDEX sign_ins_session_key_idx ON kasho_ops.sign_ins (session_key, outcome)
    WHERE session_key IS NOT NULL;
