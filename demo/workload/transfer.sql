-- Transfer between two open accounts of one currency: two legs and two balance updates in one
-- transaction. Balances are locked in demo_accounts.n order, so concurrent transfers between
-- the same two accounts queue instead of deadlocking.
\set payer random_exponential(1, :accounts, 2.0)
\set payee_offset random(0, 1000000)
\set cents random(1000, 150000)
SELECT payee.n AS payee
FROM demo_accounts payer
JOIN demo_accounts payee ON payee.currency = payer.currency
 AND payee.currency_n = 1 + (payer.currency_n + :payee_offset % greatest(payer.currency_accounts - 1, 1))
                          % payer.currency_accounts
WHERE payer.n = :payer \gset
\set first least(:payer, :payee)
\set second greatest(:payer, :payee)
\set first_sign CASE WHEN :payer < :payee THEN -1 ELSE 1 END
BEGIN;
INSERT INTO transactions (account_id, counterparty_account_id, kind, amount, currency, status,
                          description)
SELECT payer.account_id, payee.account_id, 'transfer_out',
       round(:cents / 100.0 * payer.amount_scale, payer.minor_units), payer.currency,
       'completed', 'Transfer to ' || payee.account_number
FROM demo_accounts payer, demo_accounts payee
WHERE payer.n = :payer AND payee.n = :payee;
INSERT INTO transactions (account_id, counterparty_account_id, kind, amount, currency, status,
                          description)
SELECT payee.account_id, payer.account_id, 'transfer_in',
       round(:cents / 100.0 * payer.amount_scale, payer.minor_units), payer.currency,
       'completed', 'Transfer from ' || payer.account_number
FROM demo_accounts payer, demo_accounts payee
WHERE payer.n = :payer AND payee.n = :payee;
UPDATE accounts a
SET balance = a.balance + :first_sign * round(:cents / 100.0 * d.amount_scale, d.minor_units)
FROM demo_accounts d
WHERE d.n = :first AND a.id = d.account_id;
UPDATE accounts a
SET balance = a.balance - :first_sign * round(:cents / 100.0 * d.amount_scale, d.minor_units)
FROM demo_accounts d
WHERE d.n = :second AND a.id = d.account_id;
END;
