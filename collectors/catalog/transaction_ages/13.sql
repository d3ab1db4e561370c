-- transaction_ages, PostgreSQL 13+: client sessions inside a transaction, per database, role,
-- application and state: how many, the oldest transaction, the longest running query and the
-- longest time in the current state (for 'idle in transaction': how long it has sat idle).
-- Keyed by application so alerts can leave out expected long work (pg_dump, pg_repack).
-- Sessions outside a transaction and our own session are left out; no query text.
SELECT coalesce(datname, '')                                   AS datname,
       coalesce(usename, '')                                   AS usename,
       coalesce(application_name, '')                          AS application_name,
       coalesce(state, 'starting')                             AS state,
       count(*)::integer                                       AS sessions,
       greatest(coalesce(max(extract(epoch FROM now() - xact_start)), 0), 0)::float8
                                                               AS longest_transaction_seconds,
       greatest(coalesce(max(extract(epoch FROM now() - query_start))
                FILTER (WHERE state = 'active'), 0), 0)::float8
                                                               AS longest_query_seconds,
       greatest(coalesce(max(extract(epoch FROM now() - state_change)), 0), 0)::float8
                                                               AS longest_in_state_seconds
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND xact_start IS NOT NULL
  AND pid <> pg_backend_pid()
GROUP BY 1, 2, 3, 4
