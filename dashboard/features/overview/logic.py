"""Headline numbers for the Overview: pure functions over the same frames the charts use."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard.core.figures import DeltaColor
from dashboard.core.units import format_bytes, format_rate

HEALTHY_HIT_PERCENT = 99.0


@dataclass(frozen=True)
class Headline:
    total_size_bytes: float | None
    size_growth_bytes: float | None  # latest total minus the first total in the range
    connections: int | None
    max_connections: int | None
    transactions_per_second: float | None  # the latest sample
    transactions_per_second_avg: float | None  # over the range
    cache_hit_percent: float | None  # over the range
    cache_hit_lowest_percent: float | None = None  # the worst sample (bucket) in the range

    @property
    def connections_percent(self) -> float | None:
        if self.connections is None or not self.max_connections:
            return None
        return 100.0 * self.connections / self.max_connections


def headline(sizes: pd.DataFrame, limits: pd.DataFrame, stats: pd.DataFrame) -> Headline:
    total_size = growth = None
    if not sizes.empty:
        totals = sizes.groupby("collected_at")["size_bytes"].sum().sort_index()
        total_size = float(totals.iloc[-1])
        growth = float(totals.iloc[-1] - totals.iloc[0])

    connections = max_connections = None
    if not limits.empty:
        latest = limits.sort_values("collected_at").iloc[-1]
        connections = round(float(latest["client_connections"]))
        max_connections = round(float(latest["max_connections"]))

    tps = tps_avg = hit = None
    rates = transaction_rates(stats)
    if not rates.empty:
        tps = float(rates["commits_per_second"].iloc[-1] + rates["rollbacks_per_second"].iloc[-1])
        valid = stats[stats["interval_seconds"] > 0]
        seconds = valid.groupby("collected_at")["interval_seconds"].max().sum()
        tps_avg = float((valid["xact_commit"].sum() + valid["xact_rollback"].sum()) / seconds)
    lowest = None
    if not stats.empty:
        blocks = float(stats["blks_hit"].sum() + stats["blks_read"].sum())
        hit = 100.0 * float(stats["blks_hit"].sum()) / blocks if blocks else None
        per_time = stats.groupby("collected_at")[["blks_hit", "blks_read"]].sum()
        total = per_time["blks_hit"] + per_time["blks_read"]
        ratios = (100.0 * per_time["blks_hit"] / total[total > 0]).dropna()
        lowest = float(ratios.min()) if not ratios.empty else None
    return Headline(total_size, growth, connections, max_connections, tps, tps_avg, hit,
                    lowest)


@dataclass(frozen=True)
class MetricTile:
    """Arguments for one st.metric."""

    label: str
    value: str
    delta: str | None = None
    delta_color: DeltaColor = "off"
    help: str | None = None


def headline_tiles(h: Headline) -> list[MetricTile]:
    """The Overview's headline row, formatted for people; '—' where there is no sample."""
    tiles = []
    if h.total_size_bytes is None:
        tiles.append(MetricTile("Database size", "—", help="No database_size samples in range"))
    else:
        tiles.append(MetricTile(
            "Database size", format_bytes(h.total_size_bytes),
            f"{format_bytes(h.size_growth_bytes or 0, signed=True)} in range",
            help="All connectable databases at the latest sample; the change is against "
                 "the first sample in the range"))
    percent = h.connections_percent
    if percent is None:
        tiles.append(MetricTile("Connections", "—", help="No connection_limits samples in range"))
    else:
        tiles.append(MetricTile(
            "Connections", f"{h.connections} / {h.max_connections}",
            f"{percent:.0f}% of max_connections", _usage_color(percent),
            help="Client backends at the latest sample against max_connections"))
    if h.transactions_per_second is None:
        tiles.append(MetricTile("Transactions/s", "—", help="No database_stats samples in range"))
    else:
        tiles.append(MetricTile(
            "Transactions/s", format_rate(h.transactions_per_second),
            f"avg {format_rate(h.transactions_per_second_avg or 0.0)} in range",
            help="Commits + rollbacks per second over all databases, latest interval"))
    if h.cache_hit_percent is None:
        tiles.append(MetricTile("Cache hit ratio", "—", help="No block reads or hits in range"))
    else:
        lowest = h.cache_hit_lowest_percent
        tiles.append(MetricTile(
            "Cache hit ratio", f"{h.cache_hit_percent:.2f} %",
            f"lowest {lowest:.1f} %" if lowest is not None else None,
            "green" if lowest is None or lowest >= HEALTHY_HIT_PERCENT else "orange",
            help="blks_hit / (blks_hit + blks_read) over the range, all databases, and the "
                 f"worst interval; below {HEALTHY_HIT_PERCENT:g} % on an OLTP database "
                 "usually means shared_buffers is too small"))
    return tiles


def _usage_color(percent: float) -> DeltaColor:
    if percent >= 90:
        return "red"
    if percent >= 75:
        return "orange"
    return "green"


def transaction_rates(stats: pd.DataFrame) -> pd.DataFrame:
    """Per sample time: commits/s and rollbacks/s summed over databases.

    Every database's row of one sample covers the same interval, so the rate is the summed
    delta over that interval (the largest one reported, to be safe against rounding).
    """
    columns = ["collected_at", "commits_per_second", "rollbacks_per_second"]
    if stats.empty:
        return pd.DataFrame(columns=columns)
    per_time = stats.groupby("collected_at", as_index=False).agg(
        interval_seconds=("interval_seconds", "max"), xact_commit=("xact_commit", "sum"),
        xact_rollback=("xact_rollback", "sum"))
    per_time = per_time[per_time["interval_seconds"] > 0]
    per_time["commits_per_second"] = per_time["xact_commit"] / per_time["interval_seconds"]
    per_time["rollbacks_per_second"] = per_time["xact_rollback"] / per_time["interval_seconds"]
    return per_time[columns].reset_index(drop=True)
