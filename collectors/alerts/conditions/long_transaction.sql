-- long_transaction (transaction_ages): per database, the oldest open transaction in the
-- latest sample, leaving out the applications in exclude_applications (pg_dump, pg_repack:
-- expected long work must not page anyone).
WITH last_run AS (
    SELECT started_at FROM kasho_ops.collector_runs
    WHERE target = %(target)s AND metric_group = 'transaction_ages' AND error IS NULL
      AND started_at > %(fresh_after)s
    ORDER BY started_at DESC
    LIMIT 1
),
sessions AS (
    SELECT t.* FROM last_run
    JOIN kasho_ops.transaction_ages t
      ON t.target = %(target)s AND t.collected_at = last_run.started_at
    WHERE t.application_name <> ALL (%(exclude_applications)s::text[])
)
SELECT DISTINCT ON (datname)
       datname                                            AS instance,
       longest_transaction_seconds                        AS value,
       'oldest transaction: role ' || usename || ', application '
           || coalesce(nullif(application_name, ''), '(none)') || ', now ' || state
           || ' (' || sum(sessions) OVER (PARTITION BY datname)
           || ' session(s) in a transaction in this database)' AS detail
FROM sessions
ORDER BY datname, longest_transaction_seconds DESC
