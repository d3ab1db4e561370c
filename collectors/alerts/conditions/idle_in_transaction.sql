-- idle_in_transaction (transaction_ages): per database, the longest a session has sat idle
-- inside an open transaction (holding its locks and snapshot) in the latest sample, leaving
-- out the applications in exclude_applications.
WITH last_run AS (
    SELECT started_at FROM kasho_ops.collector_runs
    WHERE target = %(target)s AND metric_group = 'transaction_ages' AND error IS NULL
      AND started_at > %(fresh_after)s
    ORDER BY started_at DESC
    LIMIT 1
),
idle AS (
    SELECT t.* FROM last_run
    JOIN kasho_ops.transaction_ages t
      ON t.target = %(target)s AND t.collected_at = last_run.started_at
    WHERE t.state LIKE 'idle in transaction%%'
      AND t.application_name <> ALL (%(exclude_applications)s::text[])
)
SELECT DISTINCT ON (datname)
       datname                                            AS instance,
       longest_in_state_seconds                           AS value,
       sum(sessions) OVER (PARTITION BY datname)
           || ' session(s) idle in transaction; the longest: role ' || usename
           || ', application ' || coalesce(nullif(application_name, ''), '(none)') AS detail
FROM idle
ORDER BY datname, longest_in_state_seconds DESC
