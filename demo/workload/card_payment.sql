-- Card payment: debited when the balance covers it, otherwise recorded as failed.
\set account random_exponential(1, :accounts, 2.0)
\set cents random(300, 40000)
WITH payment AS (
    SELECT account_id, currency, round(:cents / 100.0 * amount_scale, minor_units) AS amount
    FROM demo_accounts
    WHERE n = :account
), debited AS (
    UPDATE accounts a
    SET balance = a.balance - payment.amount
    FROM payment
    WHERE a.id = payment.account_id AND a.status = 'open' AND a.balance >= payment.amount
    RETURNING a.id
)
INSERT INTO transactions (account_id, kind, amount, currency, status, description)
SELECT account_id, 'withdrawal', amount, currency,
       CASE WHEN EXISTS (SELECT FROM debited) THEN 'completed' ELSE 'failed' END,
       'Card payment'
FROM payment;
