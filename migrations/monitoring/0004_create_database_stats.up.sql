SET lock_timeout = '5s';

-- Store table of the database_stats group (counter): each row holds the deltas over
-- interval_seconds ending at collected_at; backends is a gauge read at collected_at.
CREATE TABLE kasho_ops.database_stats (
    collected_at      timestamptz NOT NULL,
    target            text        NOT NULL,
    interval_seconds  double precision NOT NULL,
    datname           text        NOT NULL,
    backends          integer     NOT NULL,
    xact_commit       bigint      NOT NULL,
    xact_rollback     bigint      NOT NULL,
    blks_read         bigint      NOT NULL,
    blks_hit          bigint      NOT NULL,
    tup_returned      bigint      NOT NULL,
    tup_fetched       bigint      NOT NULL,
    tup_inserted      bigint      NOT NULL,
    tup_updated       bigint      NOT NULL,
    tup_deleted       bigint      NOT NULL,
    conflicts         bigint      NOT NULL,
    temp_files        bigint      NOT NULL,
    temp_bytes        bigint      NOT NULL,
    deadlocks         bigint      NOT NULL,
    blk_read_time_ms  double precision NOT NULL,
    blk_write_time_ms double precision NOT NULL,
    stats_reset       timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX database_stats_target_time_idx ON kasho_ops.database_stats (target, collected_at);
