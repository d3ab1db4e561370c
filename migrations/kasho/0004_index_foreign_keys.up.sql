SET lock_timeout = '5s';

-- PostgreSQL indexes the referenced side of a foreign key (the primary keys), never the
-- referencing side. Without these, deleting a user or an account scans the child table to
-- check for references, and "this user's accounts" / "this account's transactions" scan too.

-- A user's accounts (the app's home screen) and the users -> accounts foreign key.
CREATE INDEX accounts_user_id_idx ON accounts (user_id);
-- An account's statement, newest first (ListTransactionsByAccount), and the accounts ->
-- transactions foreign key: its leading column serves the key's checks.
CREATE INDEX transactions_account_id_created_at_idx ON transactions (account_id, created_at DESC);
