-- deadlocks (database_stats): deadlocks detected per database over the last window_seconds
-- (per-interval deltas summed).
SELECT datname                                             AS instance,
       sum(deadlocks)::float8                              AS value,
       sum(deadlocks) || ' deadlock(s) in the last ' || round(%(window_seconds)s / 60.0)
           || ' min'                                       AS detail
FROM kasho_ops.database_stats
WHERE target = %(target)s
  AND collected_at > greatest(%(fresh_after)s,
                              now() - make_interval(secs => %(window_seconds)s))
GROUP BY datname
