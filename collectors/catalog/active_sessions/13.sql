-- active_sessions, PostgreSQL 13: one sample of the active client backends, counted by
-- database, role, application and wait event (CPU = running, not waiting). No query_id in
-- pg_stat_activity before 14: queryid is 0. No text, no pids: one small row per combination.
SELECT coalesce(datname, '')              AS datname,
       coalesce(usename, '')              AS usename,
       coalesce(application_name, '')     AS application_name,
       coalesce(wait_event_type, 'CPU')   AS wait_event_type,
       coalesce(wait_event, 'CPU')        AS wait_event,
       0::bigint                          AS queryid,
       count(*)::integer                  AS sessions
FROM pg_stat_activity
WHERE state = 'active'
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3, 4, 5
