-- connections, PostgreSQL 13+: pg_stat_activity, client backends only.
-- Unix-socket clients have no address and show as 'local'; a NULL state means the backend
-- is still starting up.
SELECT coalesce(datname, '')                         AS datname,
       coalesce(usename, '')                         AS usename,
       coalesce(application_name, '')                AS application_name,
       coalesce(host(client_addr), 'local')          AS client_addr,
       coalesce(state, 'starting')                   AS state,
       count(*)::integer                             AS connections,
       count(*) FILTER (WHERE wait_event_type = 'Lock')::integer AS waiting_on_lock,
       coalesce(max(extract(epoch FROM now() - state_change)), 0)::float8
                                                     AS longest_in_state_seconds
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1, 2, 3, 4, 5
