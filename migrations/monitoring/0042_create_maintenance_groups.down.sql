SET lock_timeout = '5s';

DROP TABLE kasho_ops.buffer_cache;
DROP TABLE kasho_ops.xmin_horizon;
DROP TABLE kasho_ops.database_wraparound;
DROP TABLE kasho_ops.autovacuum_status;
DROP TABLE kasho_ops.maintenance_progress;
