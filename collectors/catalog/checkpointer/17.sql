-- checkpointer, PostgreSQL 17+: pg_stat_checkpointer (checkpoints and restartpoints, their
-- write and sync time, buffers written) beside what stays in pg_stat_bgwriter (buffers the
-- background writer cleaned, allocations). Buffers written by client backends are in
-- pg_stat_io from 17 on (group io_stats), so they are NULL here. Either view's reset
-- (pg_stat_reset_shared) starts a new baseline.
SELECT c.num_timed,
       c.num_requested,
       c.restartpoints_timed,
       c.restartpoints_req                AS restartpoints_requested,
       c.write_time::float8               AS write_time_ms,
       c.sync_time::float8                AS sync_time_ms,
       c.buffers_written,
       b.buffers_clean,
       b.maxwritten_clean,
       NULL::bigint                       AS buffers_backend,
       NULL::bigint                       AS buffers_backend_fsync,
       b.buffers_alloc,
       greatest(c.stats_reset, b.stats_reset) AS stats_reset
FROM pg_stat_checkpointer c
CROSS JOIN pg_stat_bgwriter b
