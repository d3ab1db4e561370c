-- The business plan's fee run, a batch job that comes by every few minutes: it locks every
-- business account (in id order, like transfers), charges the fee and records it, and commits
-- only after its report is written. While it holds the locks, payments to merchants wait:
-- throughput dips as lock waits rise, the pattern the Business page's correlation view shows.
\set run random(1, :fee_run_odds)
\if :run = 1
BEGIN;
-- name: LockBusinessAccounts :many
SELECT id FROM accounts WHERE account_type = 'business' ORDER BY id FOR UPDATE;
-- name: ChargeBusinessPlanFees :exec
WITH charged AS (
    UPDATE accounts
    SET balance = balance - (CASE currency WHEN 'JPY' THEN 1500 ELSE 10 END)::numeric(19,4)
    WHERE account_type = 'business'
    RETURNING id, (CASE currency WHEN 'JPY' THEN 1500 ELSE 10 END)::numeric(19,4) AS fee
)
INSERT INTO transactions (id, account_id, transaction_type, amount, status)
SELECT gen_random_uuid(), id, 'fee', fee, 'completed' FROM charged;
\sleep 2 s
END;
\endif
