-- recovery_status, PostgreSQL 14+: as 13.sql, with pg_get_wal_replay_pause_state(), so a
-- pause that was requested but has not taken effect yet counts as paused.
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint
           AS receive_replay_lag_bytes,
       pg_last_xact_replay_timestamp() AS last_replay_time,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
       END AS replay_delay_seconds,
       CASE WHEN pg_is_in_recovery() THEN pg_get_wal_replay_pause_state() <> 'not paused'
       END AS replay_paused,
       w.status AS receiver_status,
       w.sender_host AS upstream_host,
       w.sender_port AS upstream_port,
       w.slot_name AS upstream_slot,
       w.last_msg_receipt_time,
       w.received_tli AS timeline
FROM (SELECT 1) AS one
LEFT JOIN pg_stat_wal_receiver w ON true
