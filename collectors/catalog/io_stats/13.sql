-- io_stats, PostgreSQL 13-15: pg_stat_io is new in 16, so there is nothing to read; no rows
-- (the checkpointer group's buffers_backend is the closest older figure).
SELECT NULL::text AS backend_type, NULL::text AS object, NULL::text AS context,
       NULL::bigint AS reads, NULL::bigint AS read_bytes, NULL::float8 AS read_time_ms,
       NULL::bigint AS writes, NULL::bigint AS write_bytes, NULL::float8 AS write_time_ms,
       NULL::bigint AS writebacks, NULL::float8 AS writeback_time_ms,
       NULL::bigint AS extends, NULL::bigint AS extend_bytes, NULL::float8 AS extend_time_ms,
       NULL::bigint AS hits, NULL::bigint AS evictions, NULL::bigint AS reuses,
       NULL::bigint AS fsyncs, NULL::float8 AS fsync_time_ms, NULL::timestamptz AS stats_reset
WHERE false
