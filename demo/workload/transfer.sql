-- Transfer between two accounts of one currency: both accounts locked in id order (so two
-- transfers never deadlock), the payer debited if funded, two legs recorded.
\set payer random_exponential(1, :accounts, 2.0)
\set payee_offset random(0, 1000000)
\set cents random(1000, 150000)
-- name: DemoPickTransfer :one
SELECT payer.account_id AS payer_id, payee.account_id AS payee_id,
       round(payer.amount_scale * :cents / 100, payer.minor_units)::numeric(19,4) AS amount
FROM kasho_demo.accounts payer
JOIN kasho_demo.accounts payee ON payee.currency = payer.currency
 AND payee.currency_n = 1 + (payer.currency_n + :payee_offset % (payer.currency_accounts - 1))
                          % payer.currency_accounts
WHERE payer.n = :payer \gset
BEGIN;
-- name: LockAccountsForTransfer :many
SELECT id, balance FROM accounts WHERE id IN (':payer_id', ':payee_id') ORDER BY id FOR UPDATE;
-- name: DebitAccountIfFunded :one
WITH debited AS (
    UPDATE accounts SET balance = balance - :amount
    WHERE id = ':payer_id' AND balance >= :amount
    RETURNING id
)
SELECT count(*) AS funded FROM debited \gset
\if :funded
-- name: CreditAccount :exec
UPDATE accounts SET balance = balance + :amount WHERE id = ':payee_id';
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':payer_id', 'transfer_out', :amount, 'completed')
RETURNING id, created_at;
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':payee_id', 'transfer_in', :amount, 'completed')
RETURNING id, created_at;
\else
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':payer_id', 'transfer_out', :amount, 'failed')
RETURNING id, created_at;
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':payee_id', 'transfer_in', :amount, 'failed')
RETURNING id, created_at;
\endif
END;
