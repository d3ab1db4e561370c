SET lock_timeout = '5s';

-- Store tables of the on-call groups (gauges): server_state and server_settings (restarts,
-- configuration changes, failovers on the on-call timeline), transaction_ages (long and idle
-- transactions per application, for alerts that leave out pg_dump and pg_repack) and
-- kasho_schema_version (Kasho's golang-migrate version).
CREATE TABLE kasho_ops.server_state (
    collected_at             timestamptz NOT NULL,
    target                   text        NOT NULL,
    started_at               timestamptz NOT NULL,
    conf_loaded_at           timestamptz NOT NULL,
    in_recovery              boolean     NOT NULL,
    server_version_num       integer     NOT NULL,
    pending_restart_settings integer     NOT NULL,
    settings_digest          text        NOT NULL,
    bgwriter_stats_reset     timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX server_state_target_time_idx ON kasho_ops.server_state (target, collected_at);

CREATE TABLE kasho_ops.server_settings (
    collected_at    timestamptz NOT NULL,
    target          text        NOT NULL,
    name            text        NOT NULL,
    setting         text        NOT NULL,
    unit            text        NOT NULL,
    source          text        NOT NULL,
    pending_restart boolean     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX server_settings_target_time_idx ON kasho_ops.server_settings (target, collected_at);

CREATE TABLE kasho_ops.transaction_ages (
    collected_at                timestamptz NOT NULL,
    target                      text        NOT NULL,
    datname                     text        NOT NULL,
    usename                     text        NOT NULL,
    application_name            text        NOT NULL,
    state                       text        NOT NULL,
    sessions                    integer     NOT NULL,
    longest_transaction_seconds double precision NOT NULL,
    longest_query_seconds       double precision NOT NULL,
    longest_in_state_seconds    double precision NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX transaction_ages_target_time_idx
    ON kasho_ops.transaction_ages (target, collected_at);

CREATE TABLE kasho_ops.kasho_schema_version (
    collected_at   timestamptz NOT NULL,
    target         text        NOT NULL,
    table_readable boolean     NOT NULL,
    version        bigint,
    dirty          boolean
) PARTITION BY RANGE (collected_at);
CREATE INDEX kasho_schema_version_target_time_idx
    ON kasho_ops.kasho_schema_version (target, collected_at);
