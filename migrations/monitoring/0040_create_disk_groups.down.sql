SET lock_timeout = '5s';

DROP TABLE kasho_ops.extensions;
DROP TABLE kasho_ops.schema_size;
DROP TABLE kasho_ops.disk_capacity;
DROP TABLE kasho_ops.disk_usage;
