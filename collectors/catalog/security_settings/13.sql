-- security_settings, PostgreSQL 13+: the settings the Security page judges (encryption,
-- passwords, audit logging), one row each. pgaudit.log is NULL when pgaudit is not loaded;
-- reading it and the other superuser-only settings needs pg_read_all_settings (pg_monitor).
SELECT s.name::text AS name, coalesce(current_setting(s.name, true), '')::text AS setting,
       (current_setting(s.name, true) IS NOT NULL) AS present
FROM unnest(ARRAY['ssl', 'ssl_min_protocol_version', 'password_encryption', 'log_connections',
                  'log_disconnections', 'log_statement', 'log_min_duration_statement',
                  'shared_preload_libraries', 'pgaudit.log', 'pgaudit.log_parameter',
                  'row_security']) AS s(name)
