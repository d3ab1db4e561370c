-- transaction_failure_rate (business_transactions): over the minutes of the last
-- window_seconds, failed / (completed + failed) in percent, the Business page's definition
-- (dashboard/features/business/logic.py outcomes): a transaction's outcome is its status
-- when created if it never changed ('created' rows), else the status it changed to
-- ('changed' rows); a minute read across two runs has two rows, summed. Only with at least
-- min_decided decided transactions: one failure out of two pages nobody.
WITH decided AS (
    SELECT coalesce(sum(transactions) FILTER (WHERE status = 'failed'), 0)     AS failed,
           coalesce(sum(transactions) FILTER (WHERE status = 'completed'), 0)  AS completed
    FROM kasho_ops.business_transactions
    WHERE target = %(target)s AND event IN ('created', 'changed')
      AND minute >= now() - make_interval(secs => %(window_seconds)s)
      AND collected_at >= now() - make_interval(secs => %(window_seconds)s) - interval '1 day'
)
SELECT ''                                              AS instance,
       100.0 * failed / (failed + completed)           AS value,
       failed || ' failed and ' || completed || ' completed in the last '
           || round(%(window_seconds)s / 60.0) || ' min'  AS detail
FROM decided
WHERE failed + completed >= %(min_decided)s
