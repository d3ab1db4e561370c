-- query_stats, PostgreSQL 17: pg_stat_statements 1.11 renamed blk_read_time/blk_write_time
-- to shared_blk_read_time/shared_blk_write_time, added local_blk_* timings, JIT deform time
-- and added stats_since per entry: it changes when the entry is reset or evicted and added
-- again, so a delta is never taken across either. Read every run, so it reads counters
-- only: pg_stat_statements(false) skips the query-text file (the texts of new statements
-- come from texts/13.sql). exec_time_squares_ms2 (calls * (stddev^2 + mean^2)) is
-- cumulative, so its per-interval delta gives the interval's own standard deviation; being
-- a float recomputed from a running variance it can shrink by rounding, which the engine
-- never reads as a reset.
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
       NULL::bigint                        AS wal_buffers_full,
       NULL::bigint                        AS parallel_workers_to_launch,
       NULL::bigint                        AS parallel_workers_launched,
       s.stats_since
FROM pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
