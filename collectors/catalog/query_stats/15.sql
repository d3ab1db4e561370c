-- query_stats, PostgreSQL 15-16: pg_stat_statements 1.10 adds temp-block I/O time and JIT
-- counters (jit_time_ms sums generation, inlining, optimization and emission). Otherwise
-- as 14.sql: toplevel, the global stats_reset of pg_stat_statements_info, counters only
-- (pg_stat_statements(false); texts of new statements come from texts/13.sql).
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
       s.temp_blk_read_time                AS temp_blk_read_time_ms,
       s.temp_blk_write_time               AS temp_blk_write_time_ms,
       NULL::float8                        AS local_blk_read_time_ms,
       NULL::float8                        AS local_blk_write_time_ms,
       s.jit_functions                     AS jit_functions,
       (s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time
        + s.jit_emission_time)             AS jit_time_ms,
       NULL::bigint                        AS wal_buffers_full,
       NULL::bigint                        AS parallel_workers_to_launch,
       NULL::bigint                        AS parallel_workers_launched,
       i.stats_reset                       AS stats_since
FROM pg_stat_statements(false) s
CROSS JOIN pg_stat_statements_info i
WHERE s.queryid IS NOT NULL
