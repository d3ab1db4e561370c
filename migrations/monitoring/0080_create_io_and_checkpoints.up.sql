SET lock_timeout = '5s';

-- Store table of the checkpointer group (counter): checkpoints and the buffers they wrote per
-- interval, from pg_stat_checkpointer (17+) or pg_stat_bgwriter (before 17). Columns a
-- server's version does not have are NULL (restartpoints before 17, buffers_backend from 17).
CREATE TABLE kasho_ops.checkpointer (
    collected_at            timestamptz      NOT NULL,
    target                  text             NOT NULL,
    interval_seconds        double precision NOT NULL,
    num_timed               bigint,
    num_requested           bigint,
    restartpoints_timed     bigint,
    restartpoints_requested bigint,
    write_time_ms           double precision,
    sync_time_ms            double precision,
    buffers_written         bigint,
    buffers_clean           bigint,
    maxwritten_clean        bigint,
    buffers_backend         bigint,
    buffers_backend_fsync   bigint,
    buffers_alloc           bigint,
    stats_reset             timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX checkpointer_target_time_idx ON kasho_ops.checkpointer (target, collected_at);

-- Store table of the io_stats group (counter, pg_stat_io, 16+): I/O per backend type,
-- object and context per interval. NULL where an operation does not apply.
CREATE TABLE kasho_ops.io_stats (
    collected_at      timestamptz      NOT NULL,
    target            text             NOT NULL,
    interval_seconds  double precision NOT NULL,
    backend_type      text             NOT NULL,
    object            text             NOT NULL,
    context           text             NOT NULL,
    reads             bigint,
    read_bytes        bigint,
    read_time_ms      double precision,
    writes            bigint,
    write_bytes       bigint,
    write_time_ms     double precision,
    writebacks        bigint,
    writeback_time_ms double precision,
    extends           bigint,
    extend_bytes      bigint,
    extend_time_ms    double precision,
    hits              bigint,
    evictions         bigint,
    reuses            bigint,
    fsyncs            bigint,
    fsync_time_ms     double precision,
    stats_reset       timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX io_stats_target_time_idx ON kasho_ops.io_stats (target, collected_at);

-- Newer pg_stat_statements columns (NULL where the server's version lacks them): WAL full-page
-- images (13+), temp-block I/O time and JIT (15+), local-block I/O time (17+), WAL buffers
-- full and parallel workers planned/launched (18+).
ALTER TABLE kasho_ops.query_stats
    ADD COLUMN wal_fpi                    bigint,
    ADD COLUMN temp_blk_read_time_ms      double precision,
    ADD COLUMN temp_blk_write_time_ms     double precision,
    ADD COLUMN local_blk_read_time_ms     double precision,
    ADD COLUMN local_blk_write_time_ms    double precision,
    ADD COLUMN jit_functions              bigint,
    ADD COLUMN jit_time_ms                double precision,
    ADD COLUMN wal_buffers_full           bigint,
    ADD COLUMN parallel_workers_to_launch bigint,
    ADD COLUMN parallel_workers_launched  bigint;
