-- database_wraparound, PostgreSQL 14+: transaction ID and multixact ID age of every database
-- (templates included: autovacuum must freeze them too). A database's age is that of its
-- oldest unfrozen table; autovacuum forces a freezing vacuum past autovacuum_freeze_max_age
-- (autovacuum_multixact_freeze_max_age for multixacts), and the server stops assigning
-- XIDs about 3 million short of 2^31 (the hard limit). next_xid is the server's next
-- 64-bit transaction ID (pg_current_snapshot's xmax: no XID is assigned to read it) and
-- next_mxid its next multixact ID (32-bit, wraps at 2^32; no function returns it, but
-- datminmxid plus its age is it): their growth over time is the consumption rate the
-- forecast uses. Past vacuum_failsafe_age (14+) a vacuum skips index cleanup and cost
-- delays to freeze as fast as it can.
SELECT datname::text                                                     AS datname,
       datallowconn                                                      AS allows_connections,
       age(datfrozenxid)::bigint                                         AS xid_age,
       mxid_age(datminmxid)::bigint                                      AS mxid_age,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint             AS next_xid,
       ((datminmxid::text::bigint + mxid_age(datminmxid)) % 4294967296)::bigint
                                                                         AS next_mxid,
       current_setting('autovacuum_freeze_max_age')::bigint              AS freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint    AS multixact_freeze_max_age,
       current_setting('vacuum_failsafe_age')::bigint                    AS failsafe_age,
       current_setting('vacuum_multixact_failsafe_age')::bigint          AS multixact_failsafe_age
FROM pg_database
