SET lock_timeout = '5s';

DROP TABLE kasho_ops.index_advice_runs;
DROP TABLE kasho_ops.bloat_measurements;
