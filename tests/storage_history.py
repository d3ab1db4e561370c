"""History for the Storage, Maintenance and Indexes pages, grown backwards from real samples.

Tests and the benchmark first collect the storage groups for real; `seed_history_before`
then writes `days` of earlier samples for the same target, derived from the newest real
ones: sizes shrink going back by `growth_per_day` (with a little noise), cumulative
counters fall towards the start, the server's next XID falls by `xids_per_day` (so ages
and the wraparound forecast stay consistent with the real datfrozenxid), and every sample
gets its collector_runs row. The pages then show days of history ending in the real state.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.pg import copy_into_store

# group: (interval, size-like columns that grow, cumulative counters)
SHAPES: dict[str, tuple[timedelta, tuple[str, ...], tuple[str, ...]]] = {
    "disk_usage": (timedelta(minutes=5), ("size_bytes",), ()),
    "database_size": (timedelta(minutes=5), ("size_bytes",), ()),
    "schema_size": (timedelta(minutes=15), ("table_bytes", "index_bytes", "total_bytes"), ()),
    "table_stats": (timedelta(minutes=5),
                    ("heap_bytes", "toast_bytes", "indexes_bytes", "total_bytes", "n_live_tup",
                     "reltuples"),
                    ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins",
                     "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "heap_blks_read",
                     "heap_blks_hit", "idx_blks_read", "idx_blks_hit", "toast_blks_read",
                     "toast_blks_hit")),
    "index_stats": (timedelta(minutes=15), ("index_bytes",),
                    ("idx_scan", "idx_tup_read", "idx_tup_fetch", "idx_blks_read",
                     "idx_blks_hit", "table_index_writes")),
    "relation_summary": (timedelta(minutes=5), (), ()),
    "disk_capacity": (timedelta(minutes=5), (), ()),
    "autovacuum_status": (timedelta(seconds=30), (), ()),
    "database_wraparound": (timedelta(minutes=1), (), ()),
}
INTEGER_COLUMNS = {"n_live_tup", "seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch",
                   "n_tup_ins", "n_tup_upd", "n_tup_del", "n_tup_hot_upd", "heap_blks_read",
                   "heap_blks_hit", "idx_blks_read", "idx_blks_hit", "toast_blks_read",
                   "toast_blks_hit", "idx_tup_read", "table_index_writes", "size_bytes",
                   "table_bytes", "heap_bytes", "toast_bytes", "indexes_bytes", "total_bytes",
                   "index_bytes"}


def _times(newest: datetime, days: float, step: timedelta) -> Iterator[tuple[datetime, float]]:
    """(time, age in days) of each earlier sample, newest first."""
    t = newest - step
    while t > newest - timedelta(days=days):
        yield t, (newest - t).total_seconds() / 86400
        t -= step


def _scaled(row: dict[str, Any], sizes: tuple[str, ...], counters: tuple[str, ...],
            size_factor: float, counter_factor: float) -> dict[str, Any]:
    out = dict(row)
    for column in sizes:
        if out.get(column) is not None:
            value = float(out[column]) * size_factor
            out[column] = round(value) if column in INTEGER_COLUMNS else value
    for column in counters:
        if out.get(column) is not None:
            out[column] = round(float(out[column]) * counter_factor)
    return out


def seed_history_before(store_dsn: str, target: str, days: float,
                        growth_per_day: float = 0.02, xids_per_day: float = 3_000_000,
                        groups: tuple[str, ...] = tuple(SHAPES), seed: int = 9) -> int:
    """Write `days` of samples before the newest real ones of `groups`; returns rows written."""
    rng = random.Random(seed)
    written = 0
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        for group in groups:
            step, sizes, counters = SHAPES[group]
            latest = conn.cursor(row_factory=dict_row).execute(
                f"SELECT * FROM kasho_ops.{group} WHERE target = %s AND collected_at = "
                f"(SELECT max(collected_at) FROM kasho_ops.{group} WHERE target = %s)",
                [target, target]).fetchall()
            if not latest:
                continue
            newest = latest[0]["collected_at"]
            columns = tuple(latest[0].keys())
            rows, runs = [], []
            for t, age in _times(newest, days, step):
                size_factor = max(0.05, 1 - growth_per_day * age + rng.gauss(0, 0.0004))
                counter_factor = max(0.0, 1 - 0.6 * age / days)
                for row in latest:
                    sample = _scaled(row, sizes, counters, size_factor, counter_factor)
                    sample["collected_at"] = t
                    if group == "database_wraparound":
                        consumed = round(xids_per_day * age)
                        sample["next_xid"] = max(int(row["next_xid"]) - consumed, 3)
                        sample["xid_age"] = max(int(row["xid_age"]) - consumed, 0)
                    if group == "disk_capacity" and row.get("filesystem_free_bytes") is not None:
                        grown = float(row["filesystem_total_bytes"]) - float(
                            row["filesystem_free_bytes"])
                        sample["filesystem_free_bytes"] = round(
                            float(row["filesystem_total_bytes"]) - grown * size_factor)
                    rows.append(tuple(sample[c] for c in columns))
                runs.append((t, target, group, rng.uniform(5, 60), len(latest), None))
            if rows:
                copy_into_store(conn, group, columns, rows)
                copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                         "duration_ms", "rows_written",
                                                         "error"), runs)
            written += len(rows)
    return written
