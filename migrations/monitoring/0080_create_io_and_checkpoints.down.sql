SET lock_timeout = '5s';

ALTER TABLE kasho_ops.query_stats
    DROP COLUMN wal_fpi,
    DROP COLUMN temp_blk_read_time_ms,
    DROP COLUMN temp_blk_write_time_ms,
    DROP COLUMN local_blk_read_time_ms,
    DROP COLUMN local_blk_write_time_ms,
    DROP COLUMN jit_functions,
    DROP COLUMN jit_time_ms,
    DROP COLUMN wal_buffers_full,
    DROP COLUMN parallel_workers_to_launch,
    DROP COLUMN parallel_workers_launched;
DROP TABLE kasho_ops.io_stats;
DROP TABLE kasho_ops.checkpointer;
