-- query_stats_info, PostgreSQL 13: pg_stat_statements 1.8 has no pg_stat_statements_info,
-- so evictions cannot be counted; no rows.
SELECT NULL::bigint AS dealloc, NULL::timestamptz AS stats_reset
WHERE false
