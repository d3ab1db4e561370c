-- replication_standbys, PostgreSQL 13+: every WAL sender's standby (pg_stat_replication),
-- how far it is behind in bytes (sent, written, flushed, replayed) and in time, and the slot
-- it streams from. On a cascading standby the position is its own replay position.
WITH position AS (
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                ELSE pg_current_wal_lsn() END AS lsn
)
SELECT r.pid,
       coalesce(r.application_name, '') AS application_name,
       coalesce(host(r.client_addr), 'local') AS client_addr,
       coalesce(r.state, 'unknown') AS state,
       r.sync_state,
       r.sync_priority,
       pg_wal_lsn_diff(p.lsn, r.sent_lsn)::bigint AS sent_lag_bytes,
       pg_wal_lsn_diff(p.lsn, r.write_lsn)::bigint AS write_lag_bytes,
       pg_wal_lsn_diff(p.lsn, r.flush_lsn)::bigint AS flush_lag_bytes,
       pg_wal_lsn_diff(p.lsn, r.replay_lsn)::bigint AS replay_lag_bytes,
       extract(epoch FROM r.write_lag)::float8 AS write_lag_seconds,
       extract(epoch FROM r.flush_lag)::float8 AS flush_lag_seconds,
       extract(epoch FROM r.replay_lag)::float8 AS replay_lag_seconds,
       r.reply_time,
       r.backend_start,
       s.slot_name::text AS slot_name
FROM pg_stat_replication r
CROSS JOIN position p
LEFT JOIN pg_replication_slots s ON s.active_pid = r.pid
