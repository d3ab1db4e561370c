"""Storage page reads from the store: disk usage over time and now, the disk-full forecast
(the kasho_ops.disk_forecast view), capacity, database and schema sizes at both ends of the
range, tracked tables' size history, and shared buffers by relation."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import (
    WINDOW,
    cached_read,
    latest_sample,
    read_frame,
    time_bucket,
    window_params,
)


@cached_read
def disk_history(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """collected_at (bucket), used_bytes (tablespaces + WAL), wal_bytes: per-sample sums
    averaged per bucket."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT collected_at, sum(size_bytes) AS used_bytes,
                   sum(size_bytes) FILTER (WHERE area = 'wal') AS wal_bytes
            FROM kasho_ops.disk_usage WHERE {window}
            GROUP BY collected_at
        )
        SELECT {bucket} AS collected_at, avg(used_bytes)::float8 AS used_bytes,
               avg(wal_bytes)::float8 AS wal_bytes
        FROM per_sample GROUP BY 1 ORDER BY 1""").format(
            bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def disk_now(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest disk_usage sample: area, name, location, size_bytes, files."""
    return read_frame(dsn, latest_sample("disk_usage"), {"target": target, "end": end})


@cached_read
def capacity_now(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest disk_capacity row (zero or one)."""
    return read_frame(dsn, latest_sample("disk_capacity"), {"target": target, "end": end})


@cached_read
def disk_forecast(dsn: Secret, target: str) -> pd.DataFrame:
    """kasho_ops.disk_forecast for the target: one row per basis (configured capacity,
    host filesystem) with status, growth and its range, full date and confidence."""
    return read_frame(dsn, "SELECT * FROM kasho_ops.disk_forecast WHERE target = %(target)s "
                           "ORDER BY basis", {"target": target})


def _ends_of_range(table: str, key: str, value: str) -> sql.Composed:
    """The newest sample's rows with each key's value at its first sample in the range."""
    return sql.SQL("""
        WITH latest AS ({latest})
        SELECT l.{key} AS name, l.collected_at, l.{value}::float8 AS size_bytes,
               f.collected_at AS first_collected_at, f.{value}::float8 AS first_size_bytes
        FROM latest l
        LEFT JOIN LATERAL (
            SELECT collected_at, {value} FROM kasho_ops.{table} f
            WHERE f.target = l.target AND f.{key} = l.{key}
              AND f.collected_at > %(start)s AND f.collected_at < l.collected_at
            ORDER BY f.collected_at LIMIT 1) f ON true
        ORDER BY size_bytes DESC""").format(
        latest=latest_sample(table), key=sql.Identifier(key), value=sql.Identifier(value),
        table=sql.Identifier(table))


@cached_read
def database_sizes(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """name (database), collected_at, size_bytes, first_collected_at, first_size_bytes."""
    return read_frame(dsn, _ends_of_range("database_size", "datname", "size_bytes"),
                      {"target": target, "start": start, "end": end})


@cached_read
def schema_sizes(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """name (schema), collected_at, size_bytes (total), first_*, and the newest sample's
    table (heap + TOAST) and index bytes, tables and tables skipped under a lock."""
    frame = read_frame(dsn, _ends_of_range("schema_size", "schemaname", "total_bytes"),
                       {"target": target, "start": start, "end": end})
    parts = read_frame(dsn, latest_sample("schema_size", sql.SQL(
        "schemaname AS name, tables, tables_skipped_locked, table_bytes, index_bytes")),
        {"target": target, "end": end})
    if frame.empty:
        return frame
    return frame.merge(parts, on="name", how="left")


@cached_read
def table_size_history(dsn: Secret, target: str, start: datetime, end: datetime, bucket: int,
                       tables: tuple[tuple[str, str], ...]) -> pd.DataFrame:
    """collected_at (bucket), schemaname, relname, total_bytes for the given tables, from
    the samples in which each was tracked (one index range scan per table)."""
    if not tables:
        return pd.DataFrame(columns=["collected_at", "schemaname", "relname", "total_bytes"])
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, t.schemaname, t.relname,
               avg(s.total_bytes)::float8 AS total_bytes
        FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS t(schemaname, relname)
        CROSS JOIN LATERAL (
            SELECT collected_at, total_bytes FROM kasho_ops.table_stats
            WHERE target = %(target)s AND schemaname = t.schemaname AND relname = t.relname
              AND collected_at > %(start)s AND collected_at <= %(end)s) s
        GROUP BY 1, 2, 3 ORDER BY 1""").format(bucket=time_bucket("collected_at")),
        {**window_params(target, start, end, bucket),
         "schemas": [t[0] for t in tables], "names": [t[1] for t in tables]})


@cached_read
def buffer_cache(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest buffer_cache sample: what occupies shared buffers, by relation."""
    return read_frame(dsn, sql.SQL("{} ORDER BY buffers DESC").format(
        latest_sample("buffer_cache")), {"target": target, "end": end})
