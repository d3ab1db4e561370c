SET lock_timeout = '5s';

DROP VIEW kasho_ops.partition_sizes;
DROP FUNCTION kasho_ops.prune_query_texts(timestamptz);
DROP FUNCTION kasho_ops.drop_partitions_before(text, date);
