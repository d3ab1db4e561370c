SET lock_timeout = '5s';

-- Store tables of the wal_archive_counts (counter), wal_archiving, wal_archive_backlog,
-- replication_standbys, replication_slots, recovery_status and basebackup_progress (gauge)
-- groups. WAL positions
-- are kept as text (pg_lsn's output); distances between positions are bigint bytes.

-- WAL files archived and failed attempts: deltas over interval_seconds ending at collected_at.
CREATE TABLE kasho_ops.wal_archive_counts (
    collected_at     timestamptz NOT NULL,
    target           text        NOT NULL,
    interval_seconds double precision NOT NULL,
    archived_count   bigint      NOT NULL,
    failed_count     bigint      NOT NULL,
    stats_reset      timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX wal_archive_counts_target_time_idx
    ON kasho_ops.wal_archive_counts (target, collected_at);

-- The archiver's state and the archiving settings as read at collected_at.
CREATE TABLE kasho_ops.wal_archiving (
    collected_at            timestamptz NOT NULL,
    target                  text        NOT NULL,
    last_archived_wal       text,
    last_archived_time      timestamptz,
    last_failed_wal         text,
    last_failed_time        timestamptz,
    in_recovery             boolean     NOT NULL,
    current_wal_lsn         text,
    current_wal_file        text,
    archive_lag_segments    bigint,
    archive_lag_bytes       bigint,
    archive_mode            text        NOT NULL,
    archive_command         text        NOT NULL,
    archive_timeout_seconds integer     NOT NULL,
    wal_segment_size_bytes  bigint      NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX wal_archiving_target_time_idx ON kasho_ops.wal_archiving (target, collected_at);

-- Completed WAL segments waiting for the archiver (.ready files), and the oldest one's time.
CREATE TABLE kasho_ops.wal_archive_backlog (
    collected_at    timestamptz NOT NULL,
    target          text        NOT NULL,
    ready_count     integer     NOT NULL,
    oldest_ready_at timestamptz
) PARTITION BY RANGE (collected_at);
CREATE INDEX wal_archive_backlog_target_time_idx
    ON kasho_ops.wal_archive_backlog (target, collected_at);

-- One row per standby streaming from the target (pg_stat_replication).
CREATE TABLE kasho_ops.replication_standbys (
    collected_at       timestamptz NOT NULL,
    target             text        NOT NULL,
    pid                integer     NOT NULL,
    application_name   text        NOT NULL,
    client_addr        text        NOT NULL,
    state              text        NOT NULL,
    sync_state         text,
    sync_priority      integer,
    sent_lag_bytes     bigint,
    write_lag_bytes    bigint,
    flush_lag_bytes    bigint,
    replay_lag_bytes   bigint,
    write_lag_seconds  double precision,
    flush_lag_seconds  double precision,
    replay_lag_seconds double precision,
    reply_time         timestamptz,
    backend_start      timestamptz,
    slot_name          text
) PARTITION BY RANGE (collected_at);
CREATE INDEX replication_standbys_target_time_idx
    ON kasho_ops.replication_standbys (target, collected_at);

-- One row per replication slot. retained_wal_bytes is the WAL the slot keeps on disk.
CREATE TABLE kasho_ops.replication_slots (
    collected_at              timestamptz NOT NULL,
    target                    text        NOT NULL,
    slot_name                 text        NOT NULL,
    slot_type                 text        NOT NULL,
    plugin                    text        NOT NULL,
    database                  text        NOT NULL,
    temporary                 boolean     NOT NULL,
    active                    boolean     NOT NULL,
    active_pid                integer,
    wal_status                text        NOT NULL,
    safe_wal_size_bytes       bigint,
    retained_wal_bytes        bigint,
    confirmed_flush_lag_bytes bigint,
    xmin_age                  integer
) PARTITION BY RANGE (collected_at);
CREATE INDEX replication_slots_target_time_idx
    ON kasho_ops.replication_slots (target, collected_at);

-- One row per sample: is the target a standby, and how far behind is its replay.
CREATE TABLE kasho_ops.recovery_status (
    collected_at             timestamptz NOT NULL,
    target                   text        NOT NULL,
    in_recovery              boolean     NOT NULL,
    receive_lsn              text,
    replay_lsn               text,
    receive_replay_lag_bytes bigint,
    last_replay_time         timestamptz,
    replay_delay_seconds     double precision,
    replay_paused            boolean,
    receiver_status          text,
    upstream_host            text,
    upstream_port            integer,
    upstream_slot            text,
    last_msg_receipt_time    timestamptz,
    timeline                 integer
) PARTITION BY RANGE (collected_at);
CREATE INDEX recovery_status_target_time_idx
    ON kasho_ops.recovery_status (target, collected_at);

-- Base backups streaming at collected_at (pg_stat_progress_basebackup).
CREATE TABLE kasho_ops.basebackup_progress (
    collected_at          timestamptz NOT NULL,
    target                text        NOT NULL,
    pid                   integer     NOT NULL,
    application_name      text        NOT NULL,
    client_addr           text        NOT NULL,
    started_at            timestamptz,
    phase                 text        NOT NULL,
    backup_total_bytes    bigint,
    backup_streamed_bytes bigint,
    tablespaces_total     integer,
    tablespaces_streamed  integer
) PARTITION BY RANGE (collected_at);
CREATE INDEX basebackup_progress_target_time_idx
    ON kasho_ops.basebackup_progress (target, collected_at);
