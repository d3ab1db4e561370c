-- pgbouncer_clients, PgBouncer 1.x admin console: one row per client connection, folded by
-- the catalogue into counts per database, user, state (active, waiting, idle...) and
-- application, with the longest current wait (wait + wait_us).
SHOW CLIENTS
