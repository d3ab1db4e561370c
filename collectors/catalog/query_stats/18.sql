-- query_stats, PostgreSQL 18+: pg_stat_statements 1.12 adds wal_buffers_full (WAL written
-- because the WAL buffers were full: wal_buffers too small for the statement) and the
-- parallel workers planned and launched (fewer launched than planned: max_parallel_workers
-- exhausted). Otherwise as 17.sql: stats_since per entry marks its reset or eviction;
-- counters only (texts of new statements come from texts/13.sql).
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
       s.shared_blk_read_time              AS blk_read_time_ms,
       s.shared_blk_write_time             AS blk_write_time_ms,
       s.wal_records,
       s.wal_bytes::bigint                 AS wal_bytes,
       s.wal_fpi                           AS wal_fpi,
       s.temp_blk_read_time                AS temp_blk_read_time_ms,
       s.temp_blk_write_time               AS temp_blk_write_time_ms,
       s.local_blk_read_time               AS local_blk_read_time_ms,
       s.local_blk_write_time              AS local_blk_write_time_ms,
       s.jit_functions                     AS jit_functions,
       (s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time
        + s.jit_emission_time + s.jit_deform_time) AS jit_time_ms,
       s.wal_buffers_full                  AS wal_buffers_full,
       s.parallel_workers_to_launch        AS parallel_workers_to_launch,
       s.parallel_workers_launched         AS parallel_workers_launched,
       s.stats_since
FROM pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
