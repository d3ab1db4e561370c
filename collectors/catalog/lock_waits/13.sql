-- lock_waits, PostgreSQL 13: as 14.sql, but pg_locks has no waitstart before 14, so a wait
-- is counted from the session's last state change (the start of the waiting statement).
-- One row per session waiting for a heavyweight lock
-- (pg_stat_activity wait_event_type 'Lock'): the lock it waits for (pg_locks),
-- who blocks it (pg_blocking_pids, called for waiting sessions only) and the chain above
-- it: chain_depth 1 = blocked by a session that is not waiting itself; the root blocker is
-- the session at the top (next_hop says which path is followed when there are several).
-- pg_locks is read only while some session waits. No query text.
-- root_blocker_pid 0 is a prepared transaction; a NULL depth is a wait cycle (a deadlock
-- the server is about to break) or a blocker that finished between the two reads.
-- Relation names resolve only in the database we are connected to; elsewhere 'oid N'.
-- A row-lock wait (locktype transactionid) names the table of the tuple lock it holds.
WITH RECURSIVE waiting AS MATERIALIZED (
    SELECT pid, datname, usename, application_name, client_addr, state_change, xact_start,
           pg_blocking_pids(pid) AS blocking_pids
    FROM pg_stat_activity
    WHERE wait_event_type = 'Lock'
      AND pid <> pg_backend_pid()
),
-- Each waiter's next hop up the chain: a blocker that is not waiting itself if there is
-- one (the lowest pid), else the lowest waiting blocker. Following next hops is linear
-- (every waiter has one), however many sessions queue behind one lock.
next_hop AS (
    SELECT w.pid,
           coalesce(min(b.blocker) FILTER (WHERE x.pid IS NULL), min(b.blocker)) AS hop,
           count(x.pid) = count(*) AS hop_waits
    FROM waiting w
    CROSS JOIN LATERAL unnest(w.blocking_pids) AS b(blocker)
    LEFT JOIN waiting x ON x.pid = b.blocker
    WHERE b.blocker <> w.pid
    GROUP BY w.pid
),
walk (pid, hop, hop_waits, depth, path) AS (
    SELECT pid, hop, hop_waits, 1, ARRAY[pid] FROM next_hop
    UNION ALL
    SELECT walk.pid, n.hop, n.hop_waits, walk.depth + 1, walk.path || walk.hop
    FROM walk JOIN next_hop n ON n.pid = walk.hop AND walk.hop_waits
    WHERE walk.hop <> ALL (walk.path)
),
chain AS (
    SELECT pid, hop AS root_pid, depth FROM walk WHERE NOT hop_waits
),
locks AS MATERIALIZED (
    SELECT pid, locktype, mode, granted, database, relation, NULL::timestamptz AS waitstart
    FROM pg_locks
    WHERE (NOT granted OR locktype = 'tuple')
      AND EXISTS (SELECT 1 FROM waiting)
)
SELECT w.pid,
       coalesce(w.datname, '')                         AS datname,
       coalesce(w.usename, '')                         AS usename,
       coalesce(w.application_name, '')                AS application_name,
       coalesce(host(w.client_addr), 'local')          AS client_addr,
       coalesce(wanted.locktype, '')                   AS locktype,
       coalesce(wanted.mode, '')                       AS mode,
       coalesce(CASE WHEN rel.database = (SELECT oid FROM pg_database
                                          WHERE datname = current_database())
                     THEN rel.relation::regclass::text
                     ELSE 'oid ' || rel.relation END, '') AS relation,
       w.blocking_pids,
       chain.root_pid                                AS root_blocker_pid,
       chain.depth                                   AS chain_depth,
       greatest(extract(epoch FROM now() - coalesce(wanted.waitstart, w.state_change)), 0)::float8
                                                       AS wait_seconds,
       greatest(coalesce(extract(epoch FROM now() - w.xact_start), 0), 0)::float8
                                                       AS transaction_seconds,
       coalesce(root.state, CASE WHEN chain.root_pid = 0 THEN 'prepared transaction' END, '')
                                                       AS root_blocker_state,
       coalesce(root.application_name, '')             AS root_blocker_application_name,
       CASE WHEN root.xact_start IS NOT NULL
            THEN greatest(extract(epoch FROM now() - root.xact_start), 0)::float8
       END                                             AS root_blocker_transaction_seconds
FROM waiting w
LEFT JOIN chain ON chain.pid = w.pid
LEFT JOIN pg_stat_activity root ON root.pid = chain.root_pid
LEFT JOIN LATERAL (SELECT locktype, mode, waitstart FROM locks
                   WHERE locks.pid = w.pid AND NOT granted LIMIT 1) wanted ON true
LEFT JOIN LATERAL (SELECT database, relation FROM locks
                   WHERE locks.pid = w.pid AND relation IS NOT NULL
                   ORDER BY granted LIMIT 1) rel ON true
