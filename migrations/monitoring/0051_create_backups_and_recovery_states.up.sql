SET lock_timeout = '5s';

-- What `pgbackrest info --output=json` said about a target's stanza at collected_at (one row
-- per collection), with what Kasho Ops derived from it and from the repository's WAL
-- listing: the gaps in the archived WAL and the point-in-time recovery window.
CREATE TABLE kasho_ops.pgbackrest_stanzas (
    collected_at           timestamptz NOT NULL,
    target                 text        NOT NULL,
    stanza                 text        NOT NULL,
    status_code            integer     NOT NULL,
    status_message         text        NOT NULL,
    backup_in_progress     boolean     NOT NULL,
    cipher                 text        NOT NULL,
    repo_status_code       integer,
    repo_status_message    text,
    db_version             text,
    system_id              text,
    archive_id             text,
    archive_min            text,
    archive_max            text,
    archive_max_time       timestamptz,
    wal_checked            boolean     NOT NULL,
    wal_segments           integer,
    wal_gap_count          integer,
    wal_gaps               text,
    pitr_start             timestamptz,
    pitr_end               timestamptz,
    retention_full         integer,
    retention_full_type    text,
    retention_diff         integer,
    retention_archive      integer,
    retention_archive_type text,
    backup_count           integer     NOT NULL,
    pgbackrest_version     text,
    notes                  text
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbackrest_stanzas_target_time_idx
    ON kasho_ops.pgbackrest_stanzas (target, collected_at);

-- Every backup in the repository at collected_at (one row per backup per collection).
CREATE TABLE kasho_ops.pgbackrest_backups (
    collected_at        timestamptz NOT NULL,
    target              text        NOT NULL,
    stanza              text        NOT NULL,
    label               text        NOT NULL,
    backup_type         text        NOT NULL,
    prior_label         text,
    start_time          timestamptz NOT NULL,
    stop_time           timestamptz NOT NULL,
    duration_seconds    double precision NOT NULL,
    database_size_bytes bigint,
    backup_size_bytes   bigint,
    repo_size_bytes     bigint,
    repo_delta_bytes    bigint,
    wal_start           text,
    wal_stop            text,
    lsn_start           text,
    lsn_stop            text,
    error               boolean     NOT NULL,
    references_count    integer     NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX pgbackrest_backups_target_time_idx
    ON kasho_ops.pgbackrest_backups (target, collected_at);

-- Every restore drill (`kasho-ops restore-drill`), passed or failed. Not partitioned, so
-- metric retention never drops the proof of restorability.
CREATE TABLE kasho_ops.restore_drills (
    id                    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target                text        NOT NULL,
    stanza                text        NOT NULL,
    started_at            timestamptz NOT NULL,
    finished_at           timestamptz NOT NULL,
    duration_seconds      double precision NOT NULL,
    trigger               text        NOT NULL CHECK (trigger IN ('command', 'schedule')),
    requested_time        timestamptz,
    backup_label          text,
    recovered_to          timestamptz,
    newest_transaction_at timestamptz,
    restore_seconds       double precision,
    recovery_seconds      double precision,
    outcome               text        NOT NULL CHECK (outcome IN ('passed', 'failed')),
    checks                jsonb       NOT NULL,
    row_counts            jsonb       NOT NULL,
    error                 text
);
CREATE INDEX restore_drills_target_time_idx ON kasho_ops.restore_drills (target, started_at DESC);

-- States the collector computes for backups, archiving, replication and restore drills,
-- one row per state per evaluation: what alerting reads (the latest row per target and
-- state is in kasho_ops.recovery_states_latest).
CREATE TABLE kasho_ops.recovery_states (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    state        text        NOT NULL,
    severity     text        NOT NULL CHECK (severity IN ('ok', 'warning', 'critical', 'unknown')),
    value        double precision,
    threshold    double precision,
    message      text        NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX recovery_states_target_state_time_idx
    ON kasho_ops.recovery_states (target, state, collected_at DESC);

CREATE VIEW kasho_ops.recovery_states_latest AS
SELECT DISTINCT ON (target, state) collected_at, target, state, severity, value, threshold,
       message
FROM kasho_ops.recovery_states
ORDER BY target, state, collected_at DESC;

-- A drill's record is evidence: append-only like dba_actions (reject_audit_change from 0005).
CREATE TRIGGER restore_drills_append_only BEFORE UPDATE OR DELETE ON kasho_ops.restore_drills
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER restore_drills_no_truncate BEFORE TRUNCATE ON kasho_ops.restore_drills
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();
