-- statement_regression (query_stats): statements whose mean execution time over the last
-- recent_seconds is a multiple of their mean over the baseline before it (up to
-- baseline_seconds back). Both windows need min_calls calls, and the recent mean at least
-- min_mean_ms, so a rare or trivial statement does not page anyone. One alert per queryid
-- (the worst of its databases and roles). `statement` is the stored (masked) text: the
-- evaluator names the statement from it with the SQL lexer (sqlc name or first words).
WITH recent AS (
    SELECT queryid, dbid, userid, sum(calls) AS calls, sum(total_exec_time_ms) AS time_ms
    FROM kasho_ops.query_stats
    WHERE target = %(target)s AND toplevel
      AND collected_at > now() - make_interval(secs => %(recent_seconds)s)
    GROUP BY queryid, dbid, userid
    HAVING sum(calls) >= %(min_calls)s
       AND sum(total_exec_time_ms) / sum(calls) >= %(min_mean_ms)s
),
-- The baseline reads the hourly rollup for the whole hours before the recent window and
-- per-interval rows only after the last whole hour, so a day of history costs about 24 rows
-- per statement, not 1,440.
bounds AS (
    SELECT now() - make_interval(secs => %(baseline_seconds)s) AS since,
           now() - make_interval(secs => %(recent_seconds)s) AS until,
           to_timestamp(floor(extract(epoch FROM now() - make_interval(
               secs => %(recent_seconds)s)) / 3600) * 3600) AS last_whole_hour
),
baseline_rows AS (
    SELECT h.queryid, h.dbid, h.userid, h.calls, h.total_exec_time_ms
    FROM recent r CROSS JOIN bounds b
    JOIN kasho_ops.query_stats_hourly h
      ON h.target = %(target)s AND h.queryid = r.queryid AND h.dbid = r.dbid
     AND h.userid = r.userid AND h.toplevel
     AND h.hour >= b.since AND h.hour < b.last_whole_hour
    UNION ALL
    SELECT q.queryid, q.dbid, q.userid, q.calls, q.total_exec_time_ms
    FROM recent r CROSS JOIN bounds b
    JOIN kasho_ops.query_stats q
      ON q.target = %(target)s AND q.queryid = r.queryid AND q.dbid = r.dbid
     AND q.userid = r.userid AND q.toplevel
     AND q.collected_at >= greatest(b.last_whole_hour, b.since) AND q.collected_at <= b.until
),
baseline AS (
    SELECT queryid, dbid, userid, sum(calls) AS calls, sum(total_exec_time_ms) AS time_ms
    FROM baseline_rows
    GROUP BY queryid, dbid, userid
    HAVING sum(calls) >= %(min_calls)s AND sum(total_exec_time_ms) > 0
),
compared AS (
    SELECT r.queryid, r.dbid, r.userid, r.calls AS recent_calls,
           r.time_ms / r.calls AS recent_mean_ms, b.calls AS baseline_calls,
           b.time_ms / b.calls AS baseline_mean_ms
    FROM recent r JOIN baseline b USING (queryid, dbid, userid)
)
SELECT DISTINCT ON (c.queryid)
       c.queryid::text                                     AS instance,
       c.recent_mean_ms / c.baseline_mean_ms               AS value,
       'mean ' || round(c.recent_mean_ms::numeric, 2) || ' ms over ' || c.recent_calls
           || ' calls recently, was ' || round(c.baseline_mean_ms::numeric, 2) || ' ms over '
           || c.baseline_calls || ' calls (database ' || coalesce(t.datname, c.dbid::text)
           || ', role ' || coalesce(t.rolname, c.userid::text) || ')'
                                                           AS detail,
       t.query                                             AS statement
FROM compared c
LEFT JOIN kasho_ops.query_texts t
  ON t.target = %(target)s AND t.queryid = c.queryid AND t.dbid = c.dbid AND t.userid = c.userid
ORDER BY c.queryid, c.recent_mean_ms / c.baseline_mean_ms DESC
