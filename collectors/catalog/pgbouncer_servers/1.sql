-- pgbouncer_servers, PgBouncer 1.x admin console: one row per server connection, folded by
-- the catalogue into counts per database, user and state (active, idle, used, tested,
-- login): the server connections each pool holds on the server.
SHOW SERVERS
