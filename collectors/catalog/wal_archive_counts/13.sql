-- wal_archive_counts, PostgreSQL 13+: pg_stat_archiver's WAL files archived and failed
-- archive attempts, cumulative since stats_reset (stored as per-interval deltas).
SELECT archived_count, failed_count, stats_reset
FROM pg_stat_archiver
