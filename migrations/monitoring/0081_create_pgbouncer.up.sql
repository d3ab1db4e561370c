SET lock_timeout = '5s';

-- Store tables of the pgbouncer_* groups: targets of kind "pgbouncer" (PgBouncer's admin
-- console). One row per pool, database or summarized connection group per sample.
CREATE TABLE kasho_ops.pgbouncer_pools (
    collected_at    timestamptz      NOT NULL,
    target          text             NOT NULL,
    database        text             NOT NULL,
    usename         text             NOT NULL,
    cl_active       integer,
    cl_waiting      integer,
    sv_active       integer,
    sv_idle         integer,
    sv_used         integer,
    sv_tested       integer,
    sv_login        integer,
    maxwait_seconds double precision,
    pool_mode       text
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbouncer_pools_target_time_idx ON kasho_ops.pgbouncer_pools (target, collected_at);

CREATE TABLE kasho_ops.pgbouncer_databases (
    collected_at        timestamptz NOT NULL,
    target              text        NOT NULL,
    name                text        NOT NULL,
    host                text,
    port                integer,
    server_database     text,
    pool_size           integer,
    reserve_pool        integer,
    pool_mode           text,
    max_connections     integer,
    current_connections integer,
    paused              integer,
    disabled            integer
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbouncer_databases_target_time_idx
    ON kasho_ops.pgbouncer_databases (target, collected_at);

-- Counter group: deltas over interval_seconds; times in microseconds, as PgBouncer counts.
CREATE TABLE kasho_ops.pgbouncer_stats (
    collected_at         timestamptz      NOT NULL,
    target               text             NOT NULL,
    interval_seconds     double precision NOT NULL,
    database             text             NOT NULL,
    total_xact_count     bigint,
    total_query_count    bigint,
    total_received_bytes bigint,
    total_sent_bytes     bigint,
    total_xact_time_us   bigint,
    total_query_time_us  bigint,
    total_wait_time_us   bigint
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbouncer_stats_target_time_idx ON kasho_ops.pgbouncer_stats (target, collected_at);

CREATE TABLE kasho_ops.pgbouncer_clients (
    collected_at         timestamptz      NOT NULL,
    target               text             NOT NULL,
    database             text             NOT NULL,
    usename              text             NOT NULL,
    state                text             NOT NULL,
    application_name     text             NOT NULL,
    clients              integer          NOT NULL,
    longest_wait_seconds double precision
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbouncer_clients_target_time_idx
    ON kasho_ops.pgbouncer_clients (target, collected_at);

CREATE TABLE kasho_ops.pgbouncer_servers (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    database     text        NOT NULL,
    usename      text        NOT NULL,
    state        text        NOT NULL,
    servers      integer     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbouncer_servers_target_time_idx
    ON kasho_ops.pgbouncer_servers (target, collected_at);
