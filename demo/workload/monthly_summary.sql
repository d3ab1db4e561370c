-- Finance report: completed volume per currency and kind for the month to date. Scans up to
-- a third of the table; the workload's slow query on purpose, so it runs rarely.
SELECT t.currency, t.kind, count(*) AS transactions, sum(t.amount) AS total_amount,
       avg(t.amount) AS average_amount
FROM transactions t
WHERE t.status = 'completed'
  AND t.created_at >= date_trunc('month', now())
GROUP BY t.currency, t.kind
ORDER BY t.currency, t.kind;
