SET lock_timeout = '5s';

DROP TABLE kasho_ops.pgbouncer_servers;
DROP TABLE kasho_ops.pgbouncer_clients;
DROP TABLE kasho_ops.pgbouncer_stats;
DROP TABLE kasho_ops.pgbouncer_databases;
DROP TABLE kasho_ops.pgbouncer_pools;
