-- Incoming money: card top-ups settle at once; bank transfers in stay pending until
-- settle_pending.sql picks them up.
\set n random_exponential(1, :accounts, 2.0)
\set cents random(2000, 400000)
\set instant random(1, 100) <= 85
-- name: DemoPickAccountAmount :one
SELECT account_id, round(amount_scale * :cents / 100, minor_units)::numeric(19,4) AS amount
FROM kasho_demo.accounts WHERE n = :n \gset
\if :instant
BEGIN;
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':account_id', 'deposit', :amount, 'completed')
RETURNING id, created_at;
-- name: CreditAccount :exec
UPDATE accounts SET balance = balance + :amount WHERE id = ':account_id';
END;
\else
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':account_id', 'deposit', :amount, 'pending')
RETURNING id, created_at;
\endif
