-- Settlement job: the oldest pending deposit or withdrawal completes (moving the balance) or,
-- one time in ten, fails. SKIP LOCKED lets several settlers work the queue at once.
\set outcome random(1, 10)
\if :outcome = 1
-- name: SettleOldestPending :exec
WITH settled AS (
    UPDATE transactions t
    SET status = 'failed'
    WHERE t.id = (SELECT id FROM transactions
                  WHERE status = 'pending' AND transaction_type IN ('deposit', 'withdrawal')
                  ORDER BY created_at
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
    RETURNING t.account_id, t.transaction_type, t.amount, t.status
)
UPDATE accounts a
SET balance = a.balance + CASE s.transaction_type WHEN 'deposit' THEN s.amount ELSE -s.amount END
FROM settled s
WHERE a.id = s.account_id AND s.status = 'completed';
\else
-- name: SettleOldestPending :exec
WITH settled AS (
    UPDATE transactions t
    SET status = 'completed'
    WHERE t.id = (SELECT id FROM transactions
                  WHERE status = 'pending' AND transaction_type IN ('deposit', 'withdrawal')
                  ORDER BY created_at
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
    RETURNING t.account_id, t.transaction_type, t.amount, t.status
)
UPDATE accounts a
SET balance = a.balance + CASE s.transaction_type WHEN 'deposit' THEN s.amount ELSE -s.amount END
FROM settled s
WHERE a.id = s.account_id AND s.status = 'completed';
\endif
