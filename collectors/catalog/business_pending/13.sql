-- business_pending (PostgreSQL 13+): Kasho's pending transactions now, per account currency and
-- type: how many, their amount and the oldest one's age; plus one all-currencies row (currency
-- and type '*') that always exists, so an empty backlog is stored as 0, and whose amount is
-- NULL: money is never summed across currencies. Reads the partial index of pending
-- transactions.
SELECT coalesce(a.currency::text, CASE WHEN GROUPING(a.currency) = 0 THEN '' ELSE '*' END)
           AS currency,
       CASE WHEN GROUPING(t.transaction_type) = 0 THEN t.transaction_type::text ELSE '*' END
           AS transaction_type,
       count(t.*) AS transactions,
       CASE WHEN GROUPING(a.currency) = 0 THEN coalesce(sum(t.amount), 0) END AS amount,
       min(t.created_at) AS oldest_created_at,
       coalesce(extract(epoch FROM statement_timestamp() - min(t.created_at)), 0)::float8
           AS oldest_age_seconds
FROM transactions t
LEFT JOIN accounts a ON a.id = t.account_id
-- An untyped literal takes the column's type, VARCHAR or enum, so this matches the partial
-- index of pending rows either way (status::text = 'pending' would not match an enum's).
WHERE t.status = 'pending'
GROUP BY GROUPING SETS ((a.currency, t.transaction_type), ())
