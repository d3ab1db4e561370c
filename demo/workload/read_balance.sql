-- Mobile app home screen: one account's balance.
\set account random(1, :accounts)
SELECT a.account_number, a.currency, a.balance, a.status
FROM accounts a
WHERE a.id = (SELECT account_id FROM demo_accounts WHERE n = :account);
