-- blocked_sessions (lock_waits): the longest lock wait in the latest lock_waits run (a run
-- that found nobody waiting stores no rows: value 0), with how many sessions wait and who
-- blocks the longest waiter at the top of its chain.
WITH last_run AS (
    SELECT started_at FROM kasho_ops.collector_runs
    WHERE target = %(target)s AND metric_group = 'lock_waits' AND error IS NULL
      AND started_at > %(fresh_after)s
    ORDER BY started_at DESC
    LIMIT 1
),
waits AS (
    SELECT w.* FROM last_run
    JOIN kasho_ops.lock_waits w ON w.target = %(target)s AND w.collected_at = last_run.started_at
),
longest AS (
    SELECT * FROM waits ORDER BY wait_seconds DESC, pid LIMIT 1
)
SELECT ''                                                   AS instance,
       coalesce((SELECT wait_seconds FROM longest), 0)      AS value,
       coalesce((SELECT n.waiting || ' session(s) waiting for a lock; the longest, pid '
                        || pid || ' (' || mode || ' on ' || coalesce(nullif(relation, ''), locktype)
                        || ', database ' || datname || '), waits for root blocker pid '
                        || coalesce(root_blocker_pid::text, 'unknown')
                        || ' (' || coalesce(nullif(root_blocker_state, ''), 'state unknown')
                        || coalesce(', application ' || nullif(root_blocker_application_name, ''), '')
                        || ')'
                 FROM longest, (SELECT count(*) AS waiting FROM waits) n),
                'no session waits for a lock')      AS detail
FROM last_run
