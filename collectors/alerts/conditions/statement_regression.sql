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
baseline AS (
    SELECT q.queryid, q.dbid, q.userid, sum(q.calls) AS calls,
           sum(q.total_exec_time_ms) AS time_ms
    FROM recent r
    JOIN kasho_ops.query_stats q
      ON q.target = %(target)s AND q.queryid = r.queryid AND q.dbid = r.dbid
     AND q.userid = r.userid AND q.toplevel
     AND q.collected_at > now() - make_interval(secs => %(baseline_seconds)s)
     AND q.collected_at <= now() - make_interval(secs => %(recent_seconds)s)
    GROUP BY q.queryid, q.dbid, q.userid
    HAVING sum(q.calls) >= %(min_calls)s AND sum(q.total_exec_time_ms) > 0
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
