-- Chargeback: an account's latest completed card payment is reversed and refunded.
\set n random_exponential(1, :accounts, 2.0)
-- name: DemoPickAccount :one
SELECT account_id FROM kasho_demo.accounts WHERE n = :n \gset
-- name: ReverseLatestCardPayment :exec
WITH reversed AS (
    UPDATE transactions t
    SET status = 'reversed'
    WHERE t.id = (SELECT id FROM transactions
                  WHERE account_id = ':account_id'
                    AND transaction_type = 'card_payment' AND status = 'completed'
                  ORDER BY created_at DESC
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
    RETURNING t.account_id, t.amount
)
UPDATE accounts a
SET balance = a.balance + r.amount
FROM reversed r
WHERE a.id = r.account_id;
