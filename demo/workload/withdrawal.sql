-- ATM and cash-out withdrawals: recorded pending, settled (or failed) by settle_pending.sql.
\set n random_exponential(1, :accounts, 2.0)
\set cents random(2000, 50000)
-- name: DemoPickAccountAmount :one
SELECT account_id, round(amount_scale * :cents / 100, minor_units)::numeric(19,4) AS amount
FROM kasho_demo.accounts WHERE n = :n \gset
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':account_id', 'withdrawal', :amount, 'pending')
RETURNING id, created_at;
