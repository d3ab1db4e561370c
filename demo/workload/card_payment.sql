-- Card payment: debited at once when the balance covers it, otherwise recorded as failed.
\set n random_exponential(1, :accounts, 2.0)
\set cents random(300, 40000)
-- name: DemoPickAccountAmount :one
SELECT account_id, round(amount_scale * :cents / 100, minor_units)::numeric(19,4) AS amount
FROM kasho_demo.accounts WHERE n = :n \gset
BEGIN;
-- name: DebitAccountIfFunded :one
WITH debited AS (
    UPDATE accounts SET balance = balance - :amount
    WHERE id = ':account_id' AND balance >= :amount
    RETURNING id
)
SELECT count(*) AS funded FROM debited \gset
\if :funded
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':account_id', 'card_payment', :amount, 'completed')
RETURNING id, created_at;
\else
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':account_id', 'card_payment', :amount, 'failed')
RETURNING id, created_at;
\endif
END;
