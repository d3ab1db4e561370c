-- Statement screen: an account's latest 20 movements (index on account_id, created_at DESC).
\set n random(1, :accounts)
-- name: DemoPickAccount :one
SELECT account_id FROM kasho_demo.accounts WHERE n = :n \gset
-- name: ListTransactionsByAccount :many
SELECT id, account_id, transaction_type, amount, status, created_at, updated_at
FROM transactions
WHERE account_id = ':account_id'
ORDER BY created_at DESC
LIMIT 20;
