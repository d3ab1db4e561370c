-- dead_tuple_ratio (table_stats): per table at the group's latest sample, the share of dead
-- tuples (n_dead_tup / (n_live_tup + n_dead_tup), as table_stats stores it) in percent, for
-- tables with at least min_dead_tuples dead tuples: a small table's ratio is noise.
WITH latest AS (
    SELECT max(collected_at) AS collected_at FROM kasho_ops.table_stats
    WHERE target = %(target)s AND collected_at > %(fresh_after)s
)
SELECT t.schemaname || '.' || t.relname                          AS instance,
       100 * t.dead_tuple_ratio                                    AS value,
       to_char(t.n_dead_tup, 'FM999,999,999,999') || ' dead and '
           || to_char(t.n_live_tup, 'FM999,999,999,999') || ' live tuples; last vacuum '
           || coalesce(to_char(greatest(t.last_vacuum, t.last_autovacuum) AT TIME ZONE 'UTC',
                               'YYYY-MM-DD HH24:MI') || ' UTC', 'never')
                                                                   AS detail
FROM kasho_ops.table_stats t JOIN latest l USING (collected_at)
WHERE t.target = %(target)s AND t.n_dead_tup >= %(min_dead_tuples)s
  AND t.dead_tuple_ratio IS NOT NULL
