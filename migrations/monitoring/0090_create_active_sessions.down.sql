SET lock_timeout = '5s';

DROP TABLE kasho_ops.active_sessions;
