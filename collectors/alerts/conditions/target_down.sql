-- target_down (collector_runs): seconds since any metric group last read the target
-- successfully, while its latest run failed (value 0 once a run succeeds again); the detail
-- is that run's error, as redacted in the run record.
WITH expected AS (
    SELECT unnest(%(groups)s::text[]) AS metric_group
),
probe AS (
    SELECT (SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = e.metric_group
              AND r.error IS NULL
            ORDER BY r.started_at DESC LIMIT 1) AS last_success,
           (SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = e.metric_group
            ORDER BY r.started_at LIMIT 1) AS first_run,
           last_run.started_at AS last_run, last_run.error AS last_error
    FROM expected e
    LEFT JOIN LATERAL (
        SELECT r.started_at, r.error FROM kasho_ops.collector_runs r
        WHERE r.target = %(target)s AND r.metric_group = e.metric_group
        ORDER BY r.started_at DESC LIMIT 1) last_run ON true
),
summary AS (
    SELECT max(last_success) AS last_success, min(first_run) AS first_run,
           max(last_run) AS last_run,
           (array_agg(last_error ORDER BY last_run DESC NULLS LAST))[1] AS last_error
    FROM probe
)
SELECT ''                                                          AS instance,
       CASE WHEN last_error IS NULL OR last_success >= last_run THEN 0
            ELSE extract(epoch FROM now() - coalesce(last_success, first_run))::float8
       END                                                         AS value,
       CASE WHEN last_error IS NULL THEN 'the latest run succeeded'
            ELSE coalesce('no successful read since '
                          || to_char(last_success, 'YYYY-MM-DD HH24:MI:SS') || ' UTC; ',
                          'never read successfully; ')
                 || 'latest error: ' || last_error
       END                                                         AS detail
FROM summary
WHERE last_run IS NOT NULL
