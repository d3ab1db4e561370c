-- wal_archive_backlog, PostgreSQL 13+: completed WAL segments waiting to be archived (their
-- .ready files in pg_wal/archive_status) and since when the oldest has waited. Needs
-- pg_ls_archive_statusdir(), which pg_monitor grants; without it this group alone fails.
SELECT count(*)::integer AS ready_count,
       min(modification) AS oldest_ready_at
FROM pg_ls_archive_statusdir()
WHERE name ~ '^[0-9A-F]{24}\.ready$'
