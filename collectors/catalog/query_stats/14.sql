-- query_stats, PostgreSQL 14: pg_stat_statements 1.9. toplevel separates statements
-- run inside functions (pg_stat_statements.track = all) from those sent by clients; the
-- global stats_reset of pg_stat_statements_info marks a pg_stat_statements_reset() of every
-- entry. An evicted entry (dealloc) that comes back starts from zero and shows as counters
-- going backwards. Read every run, so it reads counters only: pg_stat_statements(false)
-- skips the query-text file (the texts of new statements come from texts/13.sql).
-- exec_time_squares_ms2 (calls * (stddev^2 + mean^2)) is cumulative, so its per-interval
-- delta gives the interval's own standard deviation; being a float recomputed from a
-- running variance it can shrink by rounding, which the engine never reads as a reset.
SELECT s.queryid,
       s.dbid::bigint                      AS dbid,
       s.userid::bigint                    AS userid,
       s.toplevel,
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
       i.stats_reset                       AS stats_since
FROM pg_stat_statements(false) s
CROSS JOIN pg_stat_statements_info i
WHERE s.queryid IS NOT NULL
