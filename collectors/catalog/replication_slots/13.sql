-- replication_slots, PostgreSQL 13+: every slot, whether a consumer is connected, the WAL it
-- keeps on disk (restart_lsn to the current position), wal_status and safe_wal_size (how
-- much more WAL may be written before max_slot_wal_keep_size invalidates it; NULL when
-- unlimited), and the oldest transaction it holds back from vacuum.
WITH position AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT s.slot_name::text AS slot_name,
       s.slot_type,
       coalesce(s.plugin::text, '') AS plugin,
       coalesce(s.database::text, '') AS database,
       s.temporary,
       s.active,
       s.active_pid,
       coalesce(s.wal_status, 'unknown') AS wal_status,
       s.safe_wal_size AS safe_wal_size_bytes,
       pg_wal_lsn_diff(p.lsn, s.restart_lsn)::bigint AS retained_wal_bytes,
       pg_wal_lsn_diff(p.lsn, s.confirmed_flush_lsn)::bigint AS confirmed_flush_lag_bytes,
       greatest(age(s.xmin), age(s.catalog_xmin)) AS xmin_age
FROM pg_replication_slots s
CROSS JOIN position p
