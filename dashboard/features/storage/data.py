"""Storage page reads from the store, all on one store session (`storage_reads`, cached):
disk usage over time and now, the disk-full forecast (the kasho_ops.disk_forecast view),
capacity, database and schema sizes at both ends of the range, the tracked tables (with the
largest ones' size history), the relation summary, extensions, and shared buffers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core import relations
from dashboard.core.relations import QueryWithParams
from dashboard.core.store import (
    WINDOW,
    cached_read,
    latest_sample,
    store_session,
    time_bucket,
    window_params,
)

LARGEST_TABLES_CHARTED = 8


def disk_history(target: str, start: datetime, end: datetime, bucket: int) -> QueryWithParams:
    """collected_at (bucket), used_bytes (tablespaces + WAL), wal_bytes: per-sample sums
    averaged per bucket."""
    return sql.SQL("""
        WITH per_sample AS (
            SELECT collected_at, sum(size_bytes) AS used_bytes,
                   sum(size_bytes) FILTER (WHERE area = 'wal') AS wal_bytes
            FROM kasho_ops.disk_usage WHERE {window}
            GROUP BY collected_at
        )
        SELECT {bucket} AS collected_at, avg(used_bytes)::float8 AS used_bytes,
               avg(wal_bytes)::float8 AS wal_bytes
        FROM per_sample GROUP BY 1 ORDER BY 1""").format(
            bucket=time_bucket("collected_at"), window=WINDOW), window_params(
                target, start, end, bucket)


def disk_forecast(target: str) -> QueryWithParams:
    """kasho_ops.disk_forecast for the target: one row per basis (configured capacity,
    host filesystem) with status, growth and its range, full date and confidence."""
    return ("SELECT * FROM kasho_ops.disk_forecast WHERE target = %(target)s ORDER BY basis",
            {"target": target})


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


def database_sizes(target: str, start: datetime, end: datetime) -> QueryWithParams:
    """name (database), collected_at, size_bytes, first_collected_at, first_size_bytes."""
    return (_ends_of_range("database_size", "datname", "size_bytes"),
            {"target": target, "start": start, "end": end})


def schema_sizes(target: str, start: datetime, end: datetime) -> QueryWithParams:
    """name (schema), collected_at, size_bytes (total), first_*, and the newest sample's
    table (heap + TOAST) and index bytes, tables and tables skipped under a lock."""
    return (sql.SQL("""
        WITH ends AS ({ends})
        SELECT e.*, s.tables, s.tables_skipped_locked, s.table_bytes, s.index_bytes
        FROM ends e
        JOIN kasho_ops.schema_size s ON s.target = %(target)s
         AND s.collected_at = e.collected_at AND s.schemaname = e.name
        ORDER BY e.size_bytes DESC""").format(
        ends=_ends_of_range("schema_size", "schemaname", "total_bytes")),
        {"target": target, "start": start, "end": end})


def table_size_history(target: str, start: datetime, end: datetime, bucket: int,
                       tables: list[tuple[str, str]]) -> QueryWithParams:
    """collected_at (bucket), schemaname, relname, total_bytes for the given tables, from
    the samples in which each was tracked (one index range scan per table)."""
    return sql.SQL("""
        SELECT {bucket} AS collected_at, t.schemaname, t.relname,
               avg(s.total_bytes)::float8 AS total_bytes
        FROM unnest(%(schemas)s::text[], %(names)s::text[]) AS t(schemaname, relname)
        CROSS JOIN LATERAL (
            SELECT collected_at, total_bytes FROM kasho_ops.table_stats
            WHERE target = %(target)s AND schemaname = t.schemaname AND relname = t.relname
              AND collected_at > %(start)s AND collected_at <= %(end)s) s
        GROUP BY 1, 2, 3 ORDER BY 1""").format(bucket=time_bucket("collected_at")), {
        **window_params(target, start, end, bucket),
        "schemas": [t[0] for t in tables], "names": [t[1] for t in tables]}


@dataclass(frozen=True)
class StorageReads:
    disk_history: pd.DataFrame
    disk_now: pd.DataFrame
    capacity: pd.DataFrame
    forecast: pd.DataFrame
    databases: pd.DataFrame
    schemas: pd.DataFrame
    tables: pd.DataFrame
    table_history: pd.DataFrame
    summary: pd.DataFrame
    extensions: pd.DataFrame
    buffers: pd.DataFrame

    @property
    def empty(self) -> bool:
        return bool(self.disk_now.empty and self.tables.empty and self.databases.empty)


@cached_read
def storage_reads(dsn: Secret, target: str, start: datetime, end: datetime,
                  bucket: int) -> StorageReads:
    """Everything the Storage page shows, read on one store session."""
    now = {"target": target, "end": end}
    with store_session(dsn) as read:
        def run(query: QueryWithParams) -> pd.DataFrame:
            return read(*query)

        tables = run(relations.tables_in_range(target, start, end))
        largest = (tables.sort_values("total_bytes", ascending=False)
                   .head(LARGEST_TABLES_CHARTED) if not tables.empty else tables)
        names = [(str(r.schemaname), str(r.relname)) for r in largest.itertuples()]
        return StorageReads(
            disk_history=run(disk_history(target, start, end, bucket)),
            disk_now=read(latest_sample("disk_usage"), now),
            capacity=read(latest_sample("disk_capacity"), now),
            forecast=run(disk_forecast(target)),
            databases=run(database_sizes(target, start, end)),
            schemas=run(schema_sizes(target, start, end)),
            tables=tables,
            table_history=(run(table_size_history(target, start, end, bucket, names))
                           if names else pd.DataFrame(
                               columns=["collected_at", "schemaname", "relname",
                                        "total_bytes"])),
            summary=run(relations.relation_summary(target, end)),
            extensions=run(relations.extensions(target, end)),
            buffers=read(sql.SQL("{} ORDER BY buffers DESC").format(
                latest_sample("buffer_cache")), now),
        )

