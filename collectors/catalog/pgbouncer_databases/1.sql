-- pgbouncer_databases, PgBouncer 1.x admin console: one row per configured database: the
-- server database it points at, its pool size (per user) and reserve, the database-wide
-- connection limit (0 = none) and the server connections open now, paused or disabled.
SHOW DATABASES
