SET lock_timeout = '5s';

DROP TABLE kasho_ops.connection_limits;
DROP TABLE kasho_ops.connections;
