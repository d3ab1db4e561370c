"""Overview reads from the store: database sizes (per bucket, and at the range's first and
latest sample), connections by state, the transaction and cache counters per bucket and
their latest interval, all with Kasho Ops' own activity kept apart."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.own import OwnActivity
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params

OWN_SESSION = OwnActivity.session_sql()
# The store database, when it lives on the target, is ours (pg_stat_database has no roles).
OWN_DATABASE = sql.SQL("coalesce(datname = ANY(%(own_databases)s::text[]), false)")


@cached_read
def database_sizes(dsn: Secret, target: str, start: datetime, end: datetime,
                   bucket: int) -> pd.DataFrame:
    """collected_at, datname, size_bytes (the bucket's mean)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               datname, avg(size_bytes)::float8 AS size_bytes
        FROM kasho_ops.database_size
        WHERE {window}
        GROUP BY 1, 2
        ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def size_change(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Per database: its first and latest sample in the window (as collected, not averaged):
    datname, first_at, first_bytes, last_at, last_bytes."""
    return read_frame(dsn, sql.SQL("""
        SELECT datname,
               min(collected_at) AS first_at,
               (array_agg(size_bytes ORDER BY collected_at))[1]::float8 AS first_bytes,
               max(collected_at) AS last_at,
               (array_agg(size_bytes ORDER BY collected_at DESC))[1]::float8 AS last_bytes
        FROM kasho_ops.database_size
        WHERE {window}
        GROUP BY datname ORDER BY datname""").format(window=WINDOW),
        window_params(target, start, end))


@cached_read
def connections_by_state(dsn: Secret, target: str, start: datetime, end: datetime,
                         bucket: int, own: OwnActivity) -> pd.DataFrame:
    """collected_at, state, own, connections: mean client backends per run in the bucket
    (the bucket's sample count comes from its rows; the page completes empty buckets)."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket,
                   collected_at, state, {own} AS own, sum(connections) AS connections
            FROM kasho_ops.connections
            WHERE {window}
            GROUP BY collected_at, state, 4
        ), samples AS (
            SELECT bucket, count(DISTINCT collected_at) AS sample_count
            FROM per_sample GROUP BY bucket
        )
        SELECT p.bucket AS collected_at, p.state, p.own,
               (sum(p.connections)::float8 / s.sample_count) AS connections
        FROM per_sample p JOIN samples s USING (bucket)
        GROUP BY p.bucket, p.state, p.own, s.sample_count
        ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), own=OWN_SESSION,
                                 window=WINDOW),
        {**window_params(target, start, end, bucket), **own.params()})


@cached_read
def connection_limits(dsn: Secret, target: str, start: datetime, end: datetime,
                      bucket: int) -> pd.DataFrame:
    """collected_at, max_connections, reserved_connections, client_connections (the
    bucket's largest limits and mean use)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               max(max_connections)::float8 AS max_connections,
               max(reserved_connections)::float8 AS reserved_connections,
               avg(client_connections)::float8 AS client_connections
        FROM kasho_ops.connection_limits
        WHERE {window}
        GROUP BY 1
        ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def database_stats(dsn: Secret, target: str, start: datetime, end: datetime, bucket: int,
                   own: OwnActivity, show_own: bool) -> pd.DataFrame:
    """collected_at, interval_seconds, xact_commit, xact_rollback, blks_hit, blks_read:
    deltas summed over the shown databases and over the samples of each bucket."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket,
                   collected_at,
                   max(interval_seconds) AS interval_seconds,
                   sum(xact_commit) AS xact_commit, sum(xact_rollback) AS xact_rollback,
                   sum(blks_hit) AS blks_hit, sum(blks_read) AS blks_read
            FROM kasho_ops.database_stats
            WHERE {window} AND (%(show_own)s OR NOT {own})
            GROUP BY collected_at
        )
        SELECT bucket AS collected_at,
               sum(interval_seconds)::float8 AS interval_seconds,
               sum(xact_commit)::float8 AS xact_commit,
               sum(xact_rollback)::float8 AS xact_rollback,
               sum(blks_hit)::float8 AS blks_hit,
               sum(blks_read)::float8 AS blks_read
        FROM per_sample
        GROUP BY bucket
        ORDER BY 1""").format(bucket=time_bucket("collected_at"), own=OWN_DATABASE,
                              window=WINDOW),
        {**window_params(target, start, end, bucket), **own.params(), "show_own": show_own})


@cached_read
def stats_summary(dsn: Secret, target: str, start: datetime, end: datetime,
                  own: OwnActivity, show_own: bool) -> pd.DataFrame:
    """One row over the window, per collected interval (not per bucket): the latest
    interval's time, transactions/s and hit ratio; the range's average transactions/s, its
    overall and lowest interval hit ratio (zero or one row)."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT collected_at, max(interval_seconds)::float8 AS seconds,
                   sum(xact_commit + xact_rollback)::float8 AS xacts,
                   sum(blks_hit)::float8 AS hit, sum(blks_read)::float8 AS read
            FROM kasho_ops.database_stats
            WHERE {window} AND (%(show_own)s OR NOT {own})
            GROUP BY collected_at
        ), latest AS (
            SELECT * FROM per_sample WHERE seconds > 0 ORDER BY collected_at DESC LIMIT 1
        )
        SELECT l.collected_at AS latest_at,
               l.xacts / l.seconds AS latest_tps,
               100 * l.hit / nullif(l.hit + l.read, 0) AS latest_hit_percent,
               (SELECT sum(xacts) / nullif(sum(seconds), 0) FROM per_sample
                WHERE seconds > 0) AS average_tps,
               (SELECT 100 * sum(hit) / nullif(sum(hit) + sum(read), 0)
                FROM per_sample) AS range_hit_percent,
               (SELECT min(100 * hit / nullif(hit + read, 0)) FROM per_sample)
                   AS lowest_hit_percent
        FROM latest l""").format(own=OWN_DATABASE, window=WINDOW),
        {**window_params(target, start, end), **own.params(), "show_own": show_own})
