-- xmin_horizon, PostgreSQL 13+: what holds the xmin horizon back, so VACUUM cannot remove
-- dead rows newer than it and cannot freeze past it. Candidates, oldest first, at most 5
-- of each kind:
--   transaction           a session with an open transaction (backend_xid) or snapshot
--                         (backend_xmin), named by pid, role and application
--   prepared transaction  a two-phase transaction waiting for COMMIT/ROLLBACK PREPARED,
--                         named by its gid; it survives restarts
--   replication slot      a slot's xmin, or only its catalog_xmin (catalog_only: just
--                         system catalogs are held), named by slot; an inactive slot holds
--                         it with nobody connected
--   standby feedback      a standby with hot_standby_feedback reporting its oldest xmin
-- xmin_age is in transactions (age()); holds_horizon marks the oldest of all. Our own
-- session and autovacuum workers are left out (other vacuums ignore a vacuum's snapshot).
WITH holders AS (
    SELECT 'transaction'::text                                   AS kind,
           pid::text                                             AS holder,
           pid,
           coalesce(datname, '')::text                           AS datname,
           coalesce(usename, '')::text                           AS usename,
           coalesce(application_name, '')::text                  AS application_name,
           coalesce(state, '')::text                             AS state,
           greatest(age(backend_xmin), age(backend_xid))::bigint AS xmin_age,
           extract(epoch FROM now() - xact_start)::float8        AS held_seconds,
           false                                                 AS catalog_only
    FROM pg_stat_activity
    WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)
      AND pid <> pg_backend_pid()
      AND backend_type NOT IN ('walsender', 'autovacuum worker')
    UNION ALL
    SELECT 'prepared transaction', gid, NULL, database::text, owner::text, '', 'prepared',
           age(transaction)::bigint, extract(epoch FROM now() - prepared)::float8, false
    FROM pg_prepared_xacts
    UNION ALL
    SELECT 'replication slot', slot_name::text, active_pid, coalesce(database, '')::text, '',
           coalesce(plugin, slot_type)::text,
           CASE WHEN active THEN 'active' ELSE 'inactive' END,
           greatest(age(xmin), age(catalog_xmin))::bigint, NULL::float8, xmin IS NULL
    FROM pg_replication_slots
    WHERE xmin IS NOT NULL OR catalog_xmin IS NOT NULL
    UNION ALL
    SELECT 'standby feedback', pid::text, pid, '', coalesce(usename, '')::text,
           coalesce(application_name, '')::text || ' (' || coalesce(host(client_addr), 'local') || ')',
           coalesce(state, '')::text,
           age(backend_xmin)::bigint, extract(epoch FROM now() - backend_start)::float8, false
    FROM pg_stat_replication
    WHERE backend_xmin IS NOT NULL
),
ranked AS (
    SELECT h.*,
           row_number() OVER (PARTITION BY kind ORDER BY xmin_age DESC, holder) AS rank_in_kind,
           row_number() OVER (ORDER BY catalog_only, xmin_age DESC, kind, holder) AS rank_overall
    FROM holders h
)
SELECT kind, holder, pid, datname, usename, application_name, state, xmin_age,
       greatest(held_seconds, 0)::float8 AS held_seconds, catalog_only,
       rank_overall = 1 AND NOT catalog_only AS holds_horizon
FROM ranked
WHERE rank_in_kind <= 5
