-- Chargeback: an account's latest completed card payment is reversed and refunded.
\set account random_exponential(1, :accounts, 2.0)
WITH reversed AS (
    UPDATE transactions t
    SET status = 'reversed'
    WHERE t.id = (SELECT id FROM transactions
                  WHERE account_id = (SELECT account_id FROM demo_accounts WHERE n = :account)
                    AND kind = 'withdrawal' AND status = 'completed'
                  ORDER BY created_at DESC
                  LIMIT 1
                  FOR UPDATE SKIP LOCKED)
    RETURNING t.account_id, t.amount
)
UPDATE accounts a
SET balance = a.balance + r.amount
FROM reversed r
WHERE a.id = r.account_id;
