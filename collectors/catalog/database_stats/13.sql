-- database_stats, PostgreSQL 13+: pg_stat_database, cumulative since stats_reset.
-- The shared-objects row (datname NULL) is skipped.
SELECT datname,
       numbackends::integer AS backends,
       xact_commit, xact_rollback, blks_read, blks_hit,
       tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted,
       conflicts, temp_files, temp_bytes, deadlocks,
       blk_read_time::float8  AS blk_read_time_ms,
       blk_write_time::float8 AS blk_write_time_ms,
       stats_reset
FROM pg_stat_database
WHERE datname IS NOT NULL
