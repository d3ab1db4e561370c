"""Overview reads from the store: database sizes, connections by state, connection limits and
per-database transaction/cache counters, averaged (or summed, for deltas) into time buckets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.context import PageContext
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params


@cached_read
def database_sizes(dsn: Secret, target: str, start: datetime, end: datetime,
                   bucket: int) -> pd.DataFrame:
    """collected_at, datname, size_bytes."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               datname, avg(size_bytes)::float8 AS size_bytes
        FROM kasho_ops.database_size
        WHERE {window}
        GROUP BY 1, 2
        ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def connections_by_state(dsn: Secret, target: str, start: datetime, end: datetime,
                         bucket: int) -> pd.DataFrame:
    """collected_at, state, connections (mean client backends per sample in the bucket)."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket,
                   collected_at, state, sum(connections) AS connections
            FROM kasho_ops.connections
            WHERE {window}
            GROUP BY collected_at, state
        ), samples AS (
            SELECT bucket, count(DISTINCT collected_at) AS sample_count
            FROM per_sample GROUP BY bucket
        )
        SELECT p.bucket AS collected_at, p.state,
               (sum(p.connections)::float8 / s.sample_count) AS connections
        FROM per_sample p JOIN samples s USING (bucket)
        GROUP BY p.bucket, p.state, s.sample_count
        ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def connection_limits(dsn: Secret, target: str, start: datetime, end: datetime,
                      bucket: int) -> pd.DataFrame:
    """collected_at, max_connections, reserved_connections, client_connections."""
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
def database_stats(dsn: Secret, target: str, start: datetime, end: datetime,
                   bucket: int) -> pd.DataFrame:
    """collected_at, interval_seconds, xact_commit, xact_rollback, blks_hit, blks_read:
    deltas summed over databases and over the samples of each bucket."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket,
                   collected_at,
                   max(interval_seconds) AS interval_seconds,
                   sum(xact_commit) AS xact_commit, sum(xact_rollback) AS xact_rollback,
                   sum(blks_hit) AS blks_hit, sum(blks_read) AS blks_read
            FROM kasho_ops.database_stats
            WHERE {window}
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
        ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@dataclass(frozen=True)
class OverviewData:
    sizes: pd.DataFrame
    connections: pd.DataFrame
    limits: pd.DataFrame
    stats: pd.DataFrame

    @property
    def empty(self) -> bool:
        return all(f.empty for f in (self.sizes, self.connections, self.limits, self.stats))


def overview(context: PageContext) -> OverviewData:
    args = (context.config.store.dsn, context.target, context.start, context.end,
            context.bucket_seconds)
    return OverviewData(sizes=database_sizes(*args), connections=connections_by_state(*args),
                        limits=connection_limits(*args), stats=database_stats(*args))
