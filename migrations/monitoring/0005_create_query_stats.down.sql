SET lock_timeout = '5s';

DROP TABLE kasho_ops.explain_runs;
DROP FUNCTION kasho_ops.reject_audit_change();
DROP TRIGGER query_stats_roll_up ON kasho_ops.query_stats;
DROP FUNCTION kasho_ops.query_stats_roll_up();
DROP TABLE kasho_ops.query_load_hourly;
DROP TABLE kasho_ops.query_stats_daily;
DROP TABLE kasho_ops.query_stats_hourly;
DROP TABLE kasho_ops.query_texts;
DROP TABLE kasho_ops.query_stats_info;
DROP TABLE kasho_ops.query_stats;
