SET lock_timeout = '5s';

DROP VIEW kasho_ops.collection_freshness;
DROP TABLE kasho_ops.collector_runs;
DROP FUNCTION kasho_ops.drop_partitions_before(date);
DROP FUNCTION kasho_ops.ensure_partition(text, date);
DROP SCHEMA kasho_ops;
