SET lock_timeout = '5s';

DROP TABLE kasho_ops.prepared_transactions;
DROP TABLE kasho_ops.lock_waits;
DROP TABLE kasho_ops.wait_events;
DROP TABLE kasho_ops.session_ages;
