-- Mobile app home screen: one account.
\set n random(1, :accounts)
-- name: DemoPickAccount :one
SELECT account_id FROM kasho_demo.accounts WHERE n = :n \gset
-- name: GetAccount :one
SELECT id, user_id, account_type, balance, currency, created_at, updated_at
FROM accounts
WHERE id = ':account_id';
