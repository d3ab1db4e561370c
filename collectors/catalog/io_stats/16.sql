-- io_stats, PostgreSQL 16-17: pg_stat_io, one row per backend type, object (relation, temp
-- relation) and context (normal, vacuum, bulkread, bulkwrite). Operations are counted in
-- blocks of op_bytes, which is always the block size before 18, so bytes are computed from
-- block_size (a NULL count means the operation does not apply to that combination). Times
-- need track_io_timing.
SELECT backend_type, object, context,
       reads,
       reads * current_setting('block_size')::bigint         AS read_bytes,
       read_time::float8                                      AS read_time_ms,
       writes,
       writes * current_setting('block_size')::bigint        AS write_bytes,
       write_time::float8                                     AS write_time_ms,
       writebacks,
       writeback_time::float8                                 AS writeback_time_ms,
       extends,
       extends * current_setting('block_size')::bigint       AS extend_bytes,
       extend_time::float8                                    AS extend_time_ms,
       hits, evictions, reuses, fsyncs,
       fsync_time::float8                                     AS fsync_time_ms,
       stats_reset
FROM pg_stat_io
