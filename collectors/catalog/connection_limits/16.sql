-- connection_limits, PostgreSQL 16+: reserved_connections (for pg_use_reserved_connections)
-- is added to superuser_reserved_connections.
SELECT current_setting('max_connections')::integer                 AS max_connections,
       (current_setting('superuser_reserved_connections')::integer
        + current_setting('reserved_connections')::integer)::integer AS reserved_connections,
       (SELECT count(*) FROM pg_stat_activity
        WHERE backend_type = 'client backend')::integer            AS client_connections
