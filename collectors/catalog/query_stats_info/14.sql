-- query_stats_info, PostgreSQL 14+: pg_stat_statements_info. dealloc counts the times
-- pg_stat_statements evicted its least-used entries because more distinct statements were
-- seen than pg_stat_statements.max; stats_reset is the last reset of every entry.
SELECT dealloc, stats_reset
FROM pg_stat_statements_info
