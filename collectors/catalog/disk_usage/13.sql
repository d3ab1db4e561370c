-- disk_usage, PostgreSQL 13+: what the cluster occupies on disk. One row per tablespace
-- (pg_tablespace_size; pg_default holds every database's base/ directory, pg_global the
-- shared catalogs) and one for the WAL directory (pg_ls_waldir(), which pg_monitor may
-- read). Their sum is the "used" series of the disk-full forecast.
SELECT 'tablespace'::text                                       AS area,
       spcname::text                                            AS name,
       coalesce(nullif(pg_tablespace_location(oid), ''),
                current_setting('data_directory')
                || CASE spcname WHEN 'pg_global' THEN '/global' ELSE '/base' END)
                                                                AS location,
       pg_tablespace_size(oid)                                  AS size_bytes,
       NULL::bigint                                             AS files
FROM pg_tablespace
UNION ALL
SELECT 'wal', 'pg_wal', current_setting('data_directory') || '/pg_wal',
       coalesce(sum(size), 0)::bigint, count(*)::bigint
FROM pg_ls_waldir()
