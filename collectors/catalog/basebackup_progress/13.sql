-- basebackup_progress, PostgreSQL 13+: base backups streaming right now
-- (pg_stat_progress_basebackup: pg_basebackup, or any tool using the replication protocol),
-- with their phase and bytes streamed. pgBackRest copies files itself and does not show here.
SELECT b.pid,
       coalesce(a.application_name, '') AS application_name,
       coalesce(host(a.client_addr), 'local') AS client_addr,
       a.backend_start AS started_at,
       b.phase,
       b.backup_total AS backup_total_bytes,
       b.backup_streamed AS backup_streamed_bytes,
       b.tablespaces_total::integer AS tablespaces_total,
       b.tablespaces_streamed::integer AS tablespaces_streamed
FROM pg_stat_progress_basebackup b
LEFT JOIN pg_stat_activity a ON a.pid = b.pid
