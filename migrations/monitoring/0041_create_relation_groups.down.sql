SET lock_timeout = '5s';

DROP TABLE kasho_ops.bloat_estimate;
DROP TABLE kasho_ops.relation_summary;
DROP TABLE kasho_ops.index_stats;
DROP TABLE kasho_ops.table_stats;
