"""I/O and checkpoints page reads from the store: checkpointer deltas per bucket, pg_stat_io
per bucket and over the range, and statements by I/O time (query_stats' newer columns)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params


@cached_read
def checkpoint_history(dsn: Secret, target: str, start: datetime, end: datetime,
                       bucket: int) -> pd.DataFrame:
    """Per bucket: checkpoints timed and requested, write and sync time (ms), buffers
    written by checkpoints, cleaned by the background writer, written by backends (NULL on
    17+: see io_stats) and allocated."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               sum(num_timed)::float8 AS num_timed,
               sum(num_requested)::float8 AS num_requested,
               sum(write_time_ms)::float8 AS write_time_ms,
               sum(sync_time_ms)::float8 AS sync_time_ms,
               sum(buffers_written)::float8 AS buffers_written,
               sum(buffers_clean)::float8 AS buffers_clean,
               sum(buffers_backend)::float8 AS buffers_backend,
               sum(buffers_alloc)::float8 AS buffers_alloc,
               sum(interval_seconds)::float8 AS seconds
        FROM kasho_ops.checkpointer WHERE {window}
        GROUP BY 1 ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def io_history(dsn: Secret, target: str, start: datetime, end: datetime,
               bucket: int) -> pd.DataFrame:
    """Per bucket and backend type: bytes read, written and extended, relation writes (in
    blocks), read and write time (ms), seconds covered."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, backend_type,
               coalesce(sum(read_bytes), 0)::float8 AS read_bytes,
               coalesce(sum(write_bytes), 0)::float8 AS write_bytes,
               coalesce(sum(extend_bytes), 0)::float8 AS extend_bytes,
               coalesce(sum(writes) FILTER (WHERE object = 'relation'), 0)::float8
                   AS relation_writes,
               coalesce(sum(read_time_ms), 0)::float8 AS read_time_ms,
               coalesce(sum(write_time_ms), 0)::float8 AS write_time_ms
        FROM kasho_ops.io_stats WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                               window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def io_totals(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Over the range, per backend type, object and context: every pg_stat_io counter."""
    return read_frame(dsn, sql.SQL("""
        SELECT backend_type, object, context,
               sum(reads)::float8 AS reads, sum(read_bytes)::float8 AS read_bytes,
               sum(read_time_ms)::float8 AS read_time_ms,
               sum(writes)::float8 AS writes, sum(write_bytes)::float8 AS write_bytes,
               sum(write_time_ms)::float8 AS write_time_ms,
               sum(extends)::float8 AS extends, sum(extend_bytes)::float8 AS extend_bytes,
               sum(hits)::float8 AS hits, sum(evictions)::float8 AS evictions,
               sum(reuses)::float8 AS reuses, sum(fsyncs)::float8 AS fsyncs,
               sum(fsync_time_ms)::float8 AS fsync_time_ms
        FROM kasho_ops.io_stats WHERE {window}
        GROUP BY 1, 2, 3""").format(window=WINDOW), window_params(target, start, end))


@cached_read
def statement_io(dsn: Secret, target: str, start: datetime, end: datetime,
                 limit: int = 10) -> pd.DataFrame:
    """The top-level statements with the most block I/O time (shared, local and temp) in the
    range, with their WAL full-page images, WAL-buffers-full events, parallel workers
    planned and launched, and JIT time. NULL where the server's version lacks a column."""
    return read_frame(dsn, sql.SQL("""
        SELECT s.queryid, coalesce(t.datname, '') AS datname, coalesce(t.query, '') AS query,
               sum(s.calls)::float8 AS calls,
               (sum(s.blk_read_time_ms) + sum(s.blk_write_time_ms)
                + coalesce(sum(s.local_blk_read_time_ms), 0)
                + coalesce(sum(s.local_blk_write_time_ms), 0)
                + coalesce(sum(s.temp_blk_read_time_ms), 0)
                + coalesce(sum(s.temp_blk_write_time_ms), 0))::float8 AS io_time_ms,
               sum(s.temp_blk_read_time_ms + s.temp_blk_write_time_ms)::float8
                   AS temp_io_time_ms,
               sum(s.wal_bytes)::float8 AS wal_bytes, sum(s.wal_fpi)::float8 AS wal_fpi,
               sum(s.wal_buffers_full)::float8 AS wal_buffers_full,
               sum(s.parallel_workers_to_launch)::float8 AS workers_planned,
               sum(s.parallel_workers_launched)::float8 AS workers_launched,
               sum(s.jit_time_ms)::float8 AS jit_time_ms
        FROM kasho_ops.query_stats s
        LEFT JOIN kasho_ops.query_texts t
          ON t.target = s.target AND t.queryid = s.queryid AND t.dbid = s.dbid
         AND t.userid = s.userid
        WHERE s.target = %(target)s AND s.collected_at > %(start)s
          AND s.collected_at <= %(end)s AND s.toplevel
        GROUP BY s.queryid, t.datname, t.query
        ORDER BY io_time_ms DESC NULLS LAST, wal_bytes DESC NULLS LAST
        LIMIT %(limit)s"""), {**window_params(target, start, end), "limit": limit})
