-- wait_events, PostgreSQL 13+: pg_stat_activity, sessions in state 'active' (client
-- backends, parallel and autovacuum workers, WAL senders), counted by what they wait for.
-- A NULL wait event means the session is running, shown as CPU/CPU.
SELECT backend_type,
       coalesce(wait_event_type, 'CPU')  AS wait_event_type,
       coalesce(wait_event, 'CPU')       AS wait_event,
       count(*)::integer                 AS sessions
FROM pg_stat_activity
WHERE state = 'active'
  AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3
