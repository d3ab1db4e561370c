-- server_settings, PostgreSQL 13+: every setting not at its built-in default, as the server's
-- configuration sets it (configuration files, ALTER SYSTEM, command line, per database or
-- role), and whether a change to it waits for a restart. Settings our own session sets are
-- left out. A password in a setting (primary_conninfo) is stored as ***.
SELECT name,
       regexp_replace(coalesce(setting, ''), '(password\s*=\s*)(''(?:[^'']|'''')*''|\S+)',
                      '\1***', 'gi')                    AS setting,
       coalesce(unit, '')                               AS unit,
       source,
       pending_restart
FROM pg_settings
WHERE source NOT IN ('default', 'client', 'session', 'interactive', 'test')
