-- io_stats, PostgreSQL 18+: pg_stat_io reports bytes itself (read_bytes, write_bytes,
-- extend_bytes replace op_bytes) and adds WAL I/O (object 'wal', contexts init and normal),
-- whose operations are not block-sized. Times need track_io_timing (track_wal_io_timing for
-- WAL).
SELECT backend_type, object, context,
       reads,
       read_bytes::bigint                                     AS read_bytes,
       read_time::float8                                      AS read_time_ms,
       writes,
       write_bytes::bigint                                    AS write_bytes,
       write_time::float8                                     AS write_time_ms,
       writebacks,
       writeback_time::float8                                 AS writeback_time_ms,
       extends,
       extend_bytes::bigint                                   AS extend_bytes,
       extend_time::float8                                    AS extend_time_ms,
       hits, evictions, reuses, fsyncs,
       fsync_time::float8                                     AS fsync_time_ms,
       stats_reset
FROM pg_stat_io
