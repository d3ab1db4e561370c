-- pgbouncer_pools, PgBouncer 1.x admin console: one row per pool (database, user). Clients
-- active (linked to a server connection) and waiting for one; server connections active
-- (linked to a client), idle, used (need a check before reuse), being tested, logging in;
-- how long the oldest waiting client has waited (maxwait + maxwait_us).
SHOW POOLS
