SET lock_timeout = '5s';

DROP TABLE kasho_ops.incremental_watermarks;
