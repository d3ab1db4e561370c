-- wal_archiving, PostgreSQL 13+: the archiver's state now (pg_stat_archiver's last archived
-- and last failed WAL and times; its counts are group wal_archive_counts, the .ready backlog
-- group wal_archive_backlog), the WAL position, how far archiving lags behind it, and the
-- archiving settings.
--
-- The lag counts the completed segments after the last archived one (the segment being
-- written does not count) and the bytes written since that segment's end. It is read from
-- last_archived_wal's segment number: right after a backup, when the last file archived is
-- a .backup file, it may count one segment that is in fact archived.
-- archive_command is masked where it carries a key, secret, password or token.
WITH settings AS (
    SELECT pg_is_in_recovery() AS in_recovery,
           CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                ELSE pg_current_wal_lsn() END AS lsn,
           (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')
               AS segment_bytes,
           current_setting('archive_mode') AS archive_mode
), position AS (
    SELECT s.*, pg_wal_lsn_diff(s.lsn, '0/0') AS lsn_bytes,
           CASE WHEN a.last_archived_wal ~ '^[0-9A-F]{24}'
                THEN ('x' || substr(a.last_archived_wal, 9, 8))::bit(32)::bigint
                         * (4294967296 / s.segment_bytes)
                     + ('x' || substr(a.last_archived_wal, 17, 8))::bit(32)::bigint
           END AS last_archived_segno
    FROM settings s CROSS JOIN pg_stat_archiver a
)
SELECT a.last_archived_wal, a.last_archived_time, a.last_failed_wal, a.last_failed_time,
       p.in_recovery,
       p.lsn::text AS current_wal_lsn,
       CASE WHEN NOT p.in_recovery THEN pg_walfile_name(p.lsn) END AS current_wal_file,
       CASE WHEN p.archive_mode <> 'off' AND p.lsn IS NOT NULL
            THEN greatest(floor(p.lsn_bytes / p.segment_bytes) - p.last_archived_segno - 1, 0)
       END::bigint AS archive_lag_segments,
       CASE WHEN p.archive_mode <> 'off' AND p.lsn IS NOT NULL
            THEN greatest(p.lsn_bytes - (p.last_archived_segno + 1) * p.segment_bytes, 0)
       END::bigint AS archive_lag_bytes,
       p.archive_mode,
       regexp_replace(current_setting('archive_command'),
                      '((key|secret|password|passphrase|token)[a-z0-9_-]*(=|:| +))[^ ]+',
                      '\1***', 'gi') AS archive_command,
       (SELECT setting::integer FROM pg_settings WHERE name = 'archive_timeout')
           AS archive_timeout_seconds,
       p.segment_bytes AS wal_segment_size_bytes
FROM pg_stat_archiver a CROSS JOIN position p
