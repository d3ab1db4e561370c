SET lock_timeout = '5s';

ALTER TABLE kasho_ops.collector_runs DROP COLUMN note;
DROP TABLE kasho_ops.counter_baseline_series;
DROP TABLE kasho_ops.counter_baselines;
