SET lock_timeout = '5s';

-- Store tables of the disk_usage, disk_capacity, schema_size and extensions groups (gauges).
-- disk_usage: bytes per tablespace and of the WAL directory; their sum per collected_at is
-- what the cluster occupies (the disk_forecast view extrapolates it).
CREATE TABLE kasho_ops.disk_usage (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    area         text        NOT NULL CHECK (area IN ('tablespace', 'wal')),
    name         text        NOT NULL,
    location     text        NOT NULL,
    size_bytes   bigint      NOT NULL,
    files        bigint
) PARTITION BY RANGE (collected_at);
CREATE INDEX disk_usage_target_time_idx ON kasho_ops.disk_usage (target, collected_at);

-- disk_capacity: the target's configured disk_capacity_bytes and, when the collector runs on
-- the database host, statvfs() of the data directory (filesystem_note says why not).
CREATE TABLE kasho_ops.disk_capacity (
    collected_at              timestamptz NOT NULL,
    target                    text        NOT NULL,
    data_directory            text        NOT NULL,
    configured_capacity_bytes bigint,
    filesystem_total_bytes    bigint,
    filesystem_free_bytes     bigint,
    filesystem_note           text
) PARTITION BY RANGE (collected_at);
CREATE INDEX disk_capacity_target_time_idx ON kasho_ops.disk_capacity (target, collected_at);

CREATE TABLE kasho_ops.schema_size (
    collected_at          timestamptz NOT NULL,
    target                text        NOT NULL,
    schemaname            text        NOT NULL,
    tables                integer     NOT NULL,
    tables_skipped_locked integer     NOT NULL,
    table_bytes           bigint      NOT NULL,
    index_bytes           bigint      NOT NULL,
    total_bytes           bigint      NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX schema_size_target_time_idx ON kasho_ops.schema_size (target, collected_at);

CREATE TABLE kasho_ops.extensions (
    collected_at      timestamptz NOT NULL,
    target            text        NOT NULL,
    extname           text        NOT NULL,
    installed_version text,
    default_version   text
) PARTITION BY RANGE (collected_at);
CREATE INDEX extensions_target_time_idx ON kasho_ops.extensions (target, collected_at);
