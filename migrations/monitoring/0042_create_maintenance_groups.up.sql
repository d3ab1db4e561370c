SET lock_timeout = '5s';

-- Store tables of the maintenance_progress, autovacuum_status, database_wraparound,
-- xmin_horizon and buffer_cache groups (gauges).
CREATE TABLE kasho_ops.maintenance_progress (
    collected_at          timestamptz      NOT NULL,
    target                text             NOT NULL,
    pid                   integer          NOT NULL,
    datname               text             NOT NULL,
    operation             text             NOT NULL,
    relation              text             NOT NULL,
    autovacuum            boolean          NOT NULL,
    to_prevent_wraparound boolean          NOT NULL,
    phase                 text             NOT NULL,
    blocks_total          bigint,
    blocks_done           bigint,
    percent_done          double precision,
    index_vacuum_count    bigint,
    dead_tuples           bigint,
    max_dead_tuples       bigint,
    running_seconds       double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX maintenance_progress_target_time_idx
    ON kasho_ops.maintenance_progress (target, collected_at);

CREATE TABLE kasho_ops.autovacuum_status (
    collected_at             timestamptz      NOT NULL,
    target                   text             NOT NULL,
    autovacuum               boolean          NOT NULL,
    track_counts             boolean          NOT NULL,
    max_workers              integer          NOT NULL,
    workers_busy             integer          NOT NULL,
    wraparound_workers       integer          NOT NULL,
    naptime_seconds          double precision NOT NULL,
    vacuum_threshold         integer          NOT NULL,
    vacuum_scale_factor      double precision NOT NULL,
    insert_threshold         integer          NOT NULL,
    insert_scale_factor      double precision NOT NULL,
    analyze_threshold        integer          NOT NULL,
    analyze_scale_factor     double precision NOT NULL,
    freeze_max_age           bigint           NOT NULL,
    multixact_freeze_max_age bigint           NOT NULL,
    vacuum_cost_limit        integer          NOT NULL,
    vacuum_cost_delay_ms     double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX autovacuum_status_target_time_idx
    ON kasho_ops.autovacuum_status (target, collected_at);

-- xid_age is the wraparound age alert rules watch (2^31 is the hard limit).
CREATE TABLE kasho_ops.database_wraparound (
    collected_at             timestamptz NOT NULL,
    target                   text        NOT NULL,
    datname                  text        NOT NULL,
    allows_connections       boolean     NOT NULL,
    xid_age                  bigint      NOT NULL,
    mxid_age                 bigint      NOT NULL,
    next_xid                 bigint      NOT NULL,
    next_mxid                bigint      NOT NULL,
    freeze_max_age           bigint      NOT NULL,
    multixact_freeze_max_age bigint      NOT NULL,
    failsafe_age             bigint,
    multixact_failsafe_age   bigint
) PARTITION BY RANGE (collected_at);
CREATE INDEX database_wraparound_target_time_idx
    ON kasho_ops.database_wraparound (target, collected_at);

CREATE TABLE kasho_ops.xmin_horizon (
    collected_at     timestamptz      NOT NULL,
    target           text             NOT NULL,
    kind             text             NOT NULL,
    holder           text             NOT NULL,
    pid              integer,
    datname          text             NOT NULL,
    usename          text             NOT NULL,
    application_name text             NOT NULL,
    state            text             NOT NULL,
    xmin_age         bigint           NOT NULL,
    held_seconds     double precision,
    catalog_only     boolean          NOT NULL,
    holds_horizon    boolean          NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX xmin_horizon_target_time_idx ON kasho_ops.xmin_horizon (target, collected_at);

CREATE TABLE kasho_ops.buffer_cache (
    collected_at     timestamptz      NOT NULL,
    target           text             NOT NULL,
    datname          text             NOT NULL,
    schemaname       text             NOT NULL,
    relname          text             NOT NULL,
    relkind          text             NOT NULL,
    buffers          bigint           NOT NULL,
    bytes            bigint           NOT NULL,
    dirty_buffers    bigint           NOT NULL,
    average_usage    double precision NOT NULL,
    percent_of_cache double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX buffer_cache_target_time_idx ON kasho_ops.buffer_cache (target, collected_at);
