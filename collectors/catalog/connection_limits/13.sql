-- connection_limits, PostgreSQL 13-15: max_connections and superuser_reserved_connections.
SELECT current_setting('max_connections')::integer                 AS max_connections,
       current_setting('superuser_reserved_connections')::integer  AS reserved_connections,
       (SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'client backend')::integer            AS client_connections
