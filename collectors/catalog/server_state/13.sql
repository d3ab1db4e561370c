-- server_state, PostgreSQL 13+: one row about the server as a whole, what the on-call timeline
-- and the target line read: when it started (a restart), when it last loaded its
-- configuration, primary or standby (a failover flips it), how many settings wait for a
-- restart, and a digest of the configured settings (a change means a configuration change;
-- server_settings holds the values). Settings a session sets for itself (our own
-- statement_timeout, application_name) are left out of the digest.
SELECT pg_postmaster_start_time()                        AS started_at,
       pg_conf_load_time()                               AS conf_loaded_at,
       pg_is_in_recovery()                               AS in_recovery,
       current_setting('server_version_num')::integer    AS server_version_num,
       (SELECT count(*) FROM pg_settings WHERE pending_restart)::integer
                                                         AS pending_restart_settings,
       (SELECT md5(string_agg(name || '=' || coalesce(setting, ''), E'\n' ORDER BY name))
        FROM pg_settings
        WHERE source NOT IN ('default', 'client', 'session', 'interactive', 'test'))
                                                         AS settings_digest,
       (SELECT stats_reset FROM pg_stat_bgwriter)        AS bgwriter_stats_reset
