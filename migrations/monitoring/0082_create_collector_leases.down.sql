SET lock_timeout = '5s';

DROP FUNCTION kasho_ops.release_leases(text);
DROP FUNCTION kasho_ops.balance_leases(text, text, integer, text[], interval);
DROP FUNCTION kasho_ops.lease_held(text, text);
ALTER TABLE kasho_ops.collector_runs DROP COLUMN lateness_ms, DROP COLUMN collector_id;
DROP TABLE kasho_ops.target_leases;
DROP TABLE kasho_ops.collectors;
