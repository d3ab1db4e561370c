-- query_stats, PostgreSQL 13: pg_stat_statements 1.8 (total_time became total_exec_time and
-- planning counters appeared in 13). No toplevel column and no pg_stat_statements_info yet:
-- every entry counts as top level and resets are found only by counters going backwards.
-- Read every run, so it reads counters only: pg_stat_statements(false) skips the query-text
-- file (the texts of new statements come from texts/13.sql). exec_time_squares_ms2
-- (calls * (stddev^2 + mean^2)) is cumulative, so its per-interval delta gives the
-- interval's own standard deviation; being a float recomputed from a running variance it
-- can shrink by rounding, which the engine never reads as a reset.
SELECT s.queryid,
       s.dbid::bigint                      AS dbid,
       s.userid::bigint                    AS userid,
       true                                AS toplevel,
       s.calls,
       s.total_exec_time                   AS total_exec_time_ms,
       s.calls * (s.stddev_exec_time ^ 2 + s.mean_exec_time ^ 2) AS exec_time_squares_ms2,
       s.plans,
       s.total_plan_time                   AS total_plan_time_ms,
       s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied, s.shared_blks_written,
       s.temp_blks_read, s.temp_blks_written,
       s.blk_read_time                     AS blk_read_time_ms,
       s.blk_write_time                    AS blk_write_time_ms,
       s.wal_records,
       s.wal_bytes::bigint                 AS wal_bytes,
       s.wal_fpi                           AS wal_fpi,
       NULL::float8                        AS temp_blk_read_time_ms,
       NULL::float8                        AS temp_blk_write_time_ms,
       NULL::float8                        AS local_blk_read_time_ms,
       NULL::float8                        AS local_blk_write_time_ms,
       NULL::bigint                        AS jit_functions,
       NULL::float8                        AS jit_time_ms,
       NULL::bigint                        AS wal_buffers_full,
       NULL::bigint                        AS parallel_workers_to_launch,
       NULL::bigint                        AS parallel_workers_launched,
       NULL::timestamptz                   AS stats_since
FROM pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
