-- active_sessions, PostgreSQL 14+: one sample of the active client backends, counted by
-- database, role, application, wait event (CPU = running, not waiting) and statement
-- (query_id, the queryid of pg_stat_statements; 0 when compute_query_id is off or the
-- statement has none yet). No text, no pids: one small row per combination.
SELECT coalesce(datname, '')              AS datname,
       coalesce(usename, '')              AS usename,
       coalesce(application_name, '')     AS application_name,
       coalesce(wait_event_type, 'CPU')   AS wait_event_type,
       coalesce(wait_event, 'CPU')        AS wait_event,
       coalesce(query_id, 0)              AS queryid,
       count(*)::integer                  AS sessions
FROM pg_stat_activity
WHERE state = 'active'
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3, 4, 5, 6
