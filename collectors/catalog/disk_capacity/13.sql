-- disk_capacity, PostgreSQL 13+: how big the data disk is, one row. configured_capacity_bytes
-- is the target's disk_capacity_bytes (NULL when unset). No SQL function tells pg_monitor
-- how full the filesystem is: when the collector runs on the database host
-- (host_filesystem = true) the engine fills the filesystem_* columns from statvfs() of the
-- data directory; otherwise they stay NULL and filesystem_note says why.
SELECT current_setting('data_directory')     AS data_directory,
       %(disk_capacity_bytes)s::bigint       AS configured_capacity_bytes,
       NULL::bigint                          AS filesystem_total_bytes,
       NULL::bigint                          AS filesystem_free_bytes,
       NULL::text                            AS filesystem_note
