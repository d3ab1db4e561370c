-- Incoming money: card top-ups settle at once; bank transfers stay pending until
-- settle_pending.sql picks them up.
\set account random_exponential(1, :accounts, 2.0)
\set cents random(2000, 400000)
\set instant random(1, 100)
BEGIN;
INSERT INTO transactions (account_id, kind, amount, currency, status, description)
SELECT account_id, 'deposit', round(:cents / 100.0 * amount_scale, minor_units), currency,
       CASE WHEN :instant <= 85 THEN 'completed' ELSE 'pending' END,
       CASE WHEN :instant <= 85 THEN 'Card top-up' ELSE 'Bank transfer in' END
FROM demo_accounts
WHERE n = :account;
UPDATE accounts a
SET balance = a.balance + round(:cents / 100.0 * d.amount_scale, d.minor_units)
FROM demo_accounts d
WHERE d.n = :account AND a.id = d.account_id AND :instant <= 85;
END;
