-- checkpointer, PostgreSQL 13-16: pg_stat_bgwriter, which holds the checkpointer's counters
-- too before 17. buffers_backend counts buffers client backends had to write themselves
-- (shared_buffers too small or the background writer too slow); 17+ moved it to pg_stat_io.
-- Restartpoints (a standby's checkpoints) are not counted separately before 17.
SELECT checkpoints_timed                  AS num_timed,
       checkpoints_req                    AS num_requested,
       NULL::bigint                       AS restartpoints_timed,
       NULL::bigint                       AS restartpoints_requested,
       checkpoint_write_time::float8      AS write_time_ms,
       checkpoint_sync_time::float8       AS sync_time_ms,
       buffers_checkpoint                 AS buffers_written,
       buffers_clean,
       maxwritten_clean,
       buffers_backend,
       buffers_backend_fsync,
       buffers_alloc,
       stats_reset
FROM pg_stat_bgwriter
