"""Kasho Ops page logic (pure): the runs table, sizes per table with the retention in force,
and the store's growth forecast."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd

from dashboard.core.units import format_bytes

# Days before today averaged for a table's daily growth (today is still filling up).
RATE_DAYS = 3


def runs_table(stats: pd.DataFrame) -> pd.DataFrame:
    """One row per group: runs, failure rate, targets, rows, duration and lateness."""
    if stats.empty:
        return pd.DataFrame(columns=["group", "runs", "failed %", "targets", "rows written",
                                     "duration p50 (ms)", "duration p95 (ms)",
                                     "duration max (ms)", "lateness p95 (ms)",
                                     "lateness max (ms)"])
    stats = stats.assign(**{c: pd.to_numeric(stats[c], errors="coerce")
                            for c in stats.columns if c != "metric_group"})
    return pd.DataFrame({
        "group": stats["metric_group"], "runs": stats["runs"],
        "failed %": (100 * stats["failed"] / stats["runs"]).round(1),
        "targets": stats["targets"], "rows written": stats["rows_written"],
        "duration p50 (ms)": stats["duration_p50_ms"].round(1),
        "duration p95 (ms)": stats["duration_p95_ms"].round(1),
        "duration max (ms)": stats["duration_max_ms"].round(1),
        "lateness p95 (ms)": stats["lateness_p95_ms"].round(1),
        "lateness max (ms)": stats["lateness_max_ms"].round(1)}).sort_values(
            ["failed %", "duration p95 (ms)"], ascending=False).reset_index(drop=True)


def daily_rate(sizes: pd.DataFrame, today: date) -> pd.Series:
    """Bytes per day per table: the mean size of its partitions of the RATE_DAYS days before
    today (the last full days), else of whatever full days there are, else today's."""
    if sizes.empty:
        return pd.Series(dtype="float64")
    frame = sizes.assign(day=pd.to_datetime(sizes["day"]).dt.date)
    rates = {}
    for table, rows in frame.groupby("table_name"):
        full = rows[(rows["day"] < today)
                    & (rows["day"] >= today - timedelta(days=RATE_DAYS))]
        if full.empty:
            full = rows[rows["day"] < today]
        if full.empty:
            full = rows[rows["day"] == today]
        rates[str(table)] = float(full["bytes"].mean()) if not full.empty else 0.0
    return pd.Series(rates, dtype="float64")


def size_table(sizes: pd.DataFrame, retention_for: Callable[[str], int],
               today: date) -> pd.DataFrame:
    """Per partitioned table: size now, days held, oldest day, retention in force, daily
    growth and the size once its retention window is full (steady state). Biggest first."""
    columns = ["table", "size", "days held", "oldest day", "retention (days)", "per day",
               "steady state", "size_bytes", "steady_bytes"]
    if sizes.empty:
        return pd.DataFrame(columns=columns)
    rates = daily_rate(sizes, today)
    frame = sizes.assign(day=pd.to_datetime(sizes["day"]).dt.date)
    rows = []
    for table, parts in frame.groupby("table_name"):
        kept = retention_for(str(table))
        held = parts[parts["day"] <= today]
        steady = rates[str(table)] * kept
        rows.append({"table": str(table), "size_bytes": float(parts["bytes"].sum()),
                     "days held": len(held), "oldest day": held["day"].min() if not held.empty
                     else None, "retention (days)": kept, "per_day": rates[str(table)],
                     "steady_bytes": steady})
    table_frame = pd.DataFrame(rows).sort_values("size_bytes", ascending=False)
    table_frame["size"] = table_frame["size_bytes"].map(format_bytes)
    table_frame["per day"] = table_frame["per_day"].map(format_bytes)
    table_frame["steady state"] = table_frame["steady_bytes"].map(format_bytes)
    return table_frame[columns].reset_index(drop=True)


def growth_forecast(sizes: pd.DataFrame, fixed_bytes: float,
                    retention_for: Callable[[str], int], today: date,
                    horizon_days: int = 90) -> pd.DataFrame:
    """day, bytes: the store's projected size for the next `horizon_days`, each table growing
    by its daily rate until its retention window is full, then flat (old partitions are
    dropped as new ones fill). `fixed_bytes`: tables kept whole, assumed flat."""
    if sizes.empty:
        return pd.DataFrame(columns=["day", "bytes"])
    rates = daily_rate(sizes, today)
    frame = sizes.assign(day=pd.to_datetime(sizes["day"]).dt.date)
    now_bytes = frame.groupby("table_name")["bytes"].sum()
    held_days = frame[frame["day"] <= today].groupby("table_name")["day"].nunique()
    points = []
    for ahead in range(horizon_days + 1):
        total = fixed_bytes
        for table, rate in rates.items():
            kept = retention_for(str(table))
            days_now = int(held_days.get(table, 0))
            if days_now >= kept:
                total += rate * kept
            else:
                total += float(now_bytes[table]) + rate * min(ahead, kept - days_now)
        points.append({"day": today + timedelta(days=ahead), "bytes": total})
    return pd.DataFrame(points)


def live_collectors(collectors: pd.DataFrame) -> int:
    return int(collectors["alive"].sum()) if not collectors.empty else 0
