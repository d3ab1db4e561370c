-- Statement screen: an account's latest 20 movements (index on account_id, created_at DESC).
\set account random(1, :accounts)
SELECT t.created_at, t.kind, t.amount, t.currency, t.status, t.description
FROM transactions t
WHERE t.account_id = (SELECT account_id FROM demo_accounts WHERE n = :account)
ORDER BY t.created_at DESC
LIMIT 20;
