-- security_ssl, PostgreSQL 13+: client connections by TLS use and protocol version
-- (pg_stat_ssl joined to the client backends of pg_stat_activity; pg_monitor sees all).
SELECT coalesce(s.ssl, false) AS ssl, coalesce(s.version, '')::text AS version,
       count(*)::integer AS connections
FROM pg_stat_activity a LEFT JOIN pg_stat_ssl s ON s.pid = a.pid
WHERE a.backend_type = 'client backend'
GROUP BY 1, 2
