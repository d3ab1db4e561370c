-- collector_stale (collector_runs): per metric group the collector runs on the target, how
-- many of its intervals have passed since its last successful run (or, if it never
-- succeeded, since its first run). Only while the target is up (some group succeeded within
-- up_within_seconds): a target that is down is target_down's alert, not one per group.
WITH expected AS (
    SELECT * FROM unnest(%(groups)s::text[], %(intervals)s::float8[])
                  AS e(metric_group, interval_seconds)
),
probe AS (
    SELECT e.metric_group, e.interval_seconds,
           (SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = e.metric_group
              AND r.error IS NULL
            ORDER BY r.started_at DESC LIMIT 1) AS last_success,
           (SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = e.metric_group
            ORDER BY r.started_at LIMIT 1) AS first_run,
           (SELECT r.error FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = e.metric_group
            ORDER BY r.started_at DESC LIMIT 1) AS last_error
    FROM expected e
)
SELECT metric_group                                                AS instance,
       extract(epoch FROM now() - coalesce(last_success, first_run))::float8
           / interval_seconds                                      AS value,
       CASE WHEN last_success IS NULL THEN 'never collected successfully'
            ELSE 'last collected ' || to_char(last_success, 'YYYY-MM-DD HH24:MI:SS') || ' UTC'
       END || coalesce('; latest error: ' || last_error, '')      AS detail
FROM probe
WHERE first_run IS NOT NULL
  AND EXISTS (SELECT 1 FROM probe p
              WHERE p.last_success > now() - make_interval(secs => %(up_within_seconds)s))
