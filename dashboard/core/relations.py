"""What the Storage, Maintenance and Indexes pages share about tables and indexes.

table_stats and index_stats keep only the relations the collector tracked at each interval
(the top [collector] top_tables per ranking, plus those needing care), with cumulative
counters. These queries (for a page's one store session, dashboard/core/store.py
`store_session`) return each tracked relation's newest row with the values it had at its
first sample in the range, so a page can tell growth, reads and scans over the range
(`range_delta`); relation_summary counts every table and index, tracked or not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from psycopg import sql

from dashboard.core.store import Query, latest_sample

QueryWithParams = tuple[Query, dict[str, Any]]

# Columns of table_stats whose value at the start of the range is read too (first_<name>).
TABLE_RANGE_COLUMNS = ("total_bytes", "heap_bytes", "indexes_bytes", "toast_bytes",
                       "n_tup_ins", "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "seq_scan",
                       "seq_tup_read", "idx_scan", "heap_blks_read", "heap_blks_hit",
                       "idx_blks_read", "idx_blks_hit", "toast_blks_read", "toast_blks_hit",
                       "n_dead_tup")
INDEX_RANGE_COLUMNS = ("index_bytes", "idx_scan", "idx_blks_read", "idx_blks_hit",
                       "table_index_writes")


def _with_first(table: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> sql.Composed:
    firsts = sql.SQL(", ").join(
        sql.SQL("f.{} AS {}").format(sql.Identifier(c), sql.Identifier(f"first_{c}"))
        for c in columns)
    same = sql.SQL(" AND ").join(
        sql.SQL("f.{key} = l.{key}").format(key=sql.Identifier(k)) for k in keys)
    return sql.SQL("""
        WITH latest AS ({latest})
        SELECT l.*, f.collected_at AS first_collected_at, {firsts}
        FROM latest l
        LEFT JOIN LATERAL (
            SELECT * FROM kasho_ops.{table} f
            WHERE f.target = l.target AND {same}
              AND f.collected_at > %(start)s AND f.collected_at < l.collected_at
            ORDER BY f.collected_at LIMIT 1) f ON true""").format(
        latest=latest_sample(table), firsts=firsts, table=sql.Identifier(table), same=same)


def tables_in_range(target: str, start: datetime, end: datetime) -> QueryWithParams:
    """table_stats' newest sample at or before `end`, one row per tracked table, with
    first_collected_at and first_<column> from that table's first sample after `start`
    (NULL when the newest is its only one in the range)."""
    return (_with_first("table_stats", ("schemaname", "relname"), TABLE_RANGE_COLUMNS),
            {"target": target, "start": start, "end": end})


def indexes_in_range(target: str, start: datetime, end: datetime) -> QueryWithParams:
    """index_stats' newest sample at or before `end`, with first_<column> as for tables."""
    return (_with_first("index_stats", ("schemaname", "indexrelname"), INDEX_RANGE_COLUMNS),
            {"target": target, "start": start, "end": end})


def relation_summary(target: str, end: datetime) -> QueryWithParams:
    """relation_summary's newest row at or before `end` (zero or one row)."""
    return latest_sample("relation_summary"), {"target": target, "end": end}


def extensions(target: str, end: datetime) -> QueryWithParams:
    """extname, installed_version, default_version at the newest sample."""
    return latest_sample("extensions"), {"target": target, "end": end}


def range_delta(frame: pd.DataFrame, column: str) -> pd.Series:
    """How much a cumulative column grew between each row's first sample in the range and
    its newest. NaN without a first sample, or when the counter went backwards (statistics
    reset in between): never a negative or invented number."""
    if frame.empty:
        return pd.Series(dtype="float64")
    if f"first_{column}" not in frame:
        return pd.Series(np.nan, index=frame.index)
    last = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    first = pd.to_numeric(frame[f"first_{column}"], errors="coerce").astype("float64")
    delta = last - first
    return delta.where(delta >= 0, np.nan)


def range_days(frame: pd.DataFrame) -> pd.Series:
    """Days between each row's first sample in the range and its newest (NaN without one)."""
    if frame.empty:
        return pd.Series(dtype="float64")
    if "first_collected_at" not in frame:
        return pd.Series(np.nan, index=frame.index)
    last = pd.to_datetime(frame["collected_at"], utc=True)
    first = pd.to_datetime(frame["first_collected_at"], utc=True)
    days = (last - first).dt.total_seconds() / 86400
    return days.where(days > 0, np.nan)


def installed(extension_rows: pd.DataFrame, name: str) -> str | None:
    """The installed version of extension `name`, or None."""
    if extension_rows.empty:
        return None
    row = extension_rows[extension_rows["extname"] == name]
    if row.empty or pd.isna(row.iloc[0]["installed_version"]):
        return None
    return str(row.iloc[0]["installed_version"])


def available(extension_rows: pd.DataFrame, name: str) -> bool:
    """Whether the server could install extension `name` (its files are there)."""
    return not extension_rows.empty and bool((extension_rows["extname"] == name).any())
