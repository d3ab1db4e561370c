-- pgbouncer_stats, PgBouncer 1.x admin console: cumulative totals per database since
-- PgBouncer started: transactions and queries pooled, bytes received and sent, and the
-- microseconds spent in transactions, in queries and waiting for a server connection.
SHOW STATS
