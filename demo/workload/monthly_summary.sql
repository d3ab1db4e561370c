-- Finance report: completed volume per currency and type for the month to date. Reads up to
-- a third of the table; the workload's slow query on purpose, so it runs rarely.
-- name: MonthlyVolumeByType :many
SELECT a.currency, t.transaction_type, count(*) AS transactions, sum(t.amount) AS total_amount
FROM transactions t
JOIN accounts a ON a.id = t.account_id
WHERE t.status = 'completed'
  AND t.created_at >= date_trunc('month', now())
GROUP BY a.currency, t.transaction_type
ORDER BY a.currency, t.transaction_type;
