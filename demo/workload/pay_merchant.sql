-- Checkout at the marketplace: a customer pays the busy merchant account of their currency
-- (kasho_demo.accounts currency_n = 1; the merchant itself pays its neighbour), the workload's
-- hot rows. The fraud check runs while both accounts are locked, as in the real checkout
-- flow, so concurrent checkouts queue on the merchant's row: lock waits and blocking chains.
\set payer random(1, :accounts)
\set cents random(500, 25000)
\set fraud_check_ms random(50, 250)
-- name: DemoPickMerchantPayment :one
SELECT payer.account_id AS payer_id, merchant.account_id AS merchant_id,
       round(payer.amount_scale * :cents / 100, payer.minor_units)::numeric(19,4) AS amount
FROM kasho_demo.accounts payer
JOIN kasho_demo.accounts merchant ON merchant.currency = payer.currency
 AND merchant.currency_n = 1 + (payer.currency_n = 1)::int
WHERE payer.n = :payer \gset
BEGIN;
-- name: LockAccountsForTransfer :many
SELECT id, balance FROM accounts WHERE id IN (':payer_id', ':merchant_id') ORDER BY id FOR UPDATE;
\sleep :fraud_check_ms ms
-- name: DebitAccountIfFunded :one
WITH debited AS (
    UPDATE accounts SET balance = balance - :amount
    WHERE id = ':payer_id' AND balance >= :amount
    RETURNING id
)
SELECT count(*) AS funded FROM debited \gset
\if :funded
-- name: CreditAccount :exec
UPDATE accounts SET balance = balance + :amount WHERE id = ':merchant_id';
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':payer_id', 'transfer_out', :amount, 'completed')
RETURNING id, created_at;
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':merchant_id', 'transfer_in', :amount, 'completed')
RETURNING id, created_at;
\else
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':payer_id', 'transfer_out', :amount, 'failed')
RETURNING id, created_at;
-- name: CreateTransaction :one
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
VALUES (gen_random_uuid(), ':merchant_id', 'transfer_in', :amount, 'failed')
RETURNING id, created_at;
\endif
END;
