-- business_balances (PostgreSQL 13+): Kasho's balances now, per currency and account type:
-- accounts, their total balance, and how many are negative and by how much. Exact: one read of
-- accounts (never transactions), which is why the group runs on a slow interval.
SELECT a.currency::text AS currency,
       a.account_type::text AS account_type,
       count(*) AS accounts,
       sum(a.balance) AS total_balance,
       count(*) FILTER (WHERE a.balance < 0) AS negative_accounts,
       coalesce(sum(a.balance) FILTER (WHERE a.balance < 0), 0) AS negative_balance
FROM accounts a
GROUP BY 1, 2
