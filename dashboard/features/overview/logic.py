"""Headline numbers and chart frames for the Overview: pure functions over the frames the
data module reads.

Every tile shows the latest value and says so in its label; its change is over the range and
names it ("+12 MB in the last 6 hours", or "since 10:32 UTC" when the history is shorter
than the range). Lowest and peak values are taken over collected intervals, the same
granularity as the latest value, so the latest is never below the "lowest".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import DeltaColor
from dashboard.core.timeseries import Collection, complete_wide
from dashboard.core.units import format_bytes, format_rate
from dashboard.core.utilization import Utilization

HEALTHY_HIT_PERCENT = 99.0
LATEST = "latest"


@dataclass(frozen=True)
class SizeChange:
    total_bytes: float  # the shown databases at their latest sample
    growth_bytes: float | None  # latest minus first sample in the range; None: one sample
    since: datetime | None  # when the history began, if inside the range (else: the range)


def size_change(change: pd.DataFrame, history_start: datetime | None = None,
                range_start: datetime | None = None) -> SizeChange | None:
    """From data.size_change rows of the databases to show; `history_start` is the group's
    first sample ever: growth counts from it when it is inside the range."""
    if change.empty:
        return None
    latest_at = change["last_at"].max()
    current = change[change["last_at"] == latest_at]
    total = float(current["last_bytes"].sum())
    since = (history_start if history_start is not None and range_start is not None
             and history_start > range_start else None)
    if (change["first_at"] == change["last_at"]).all():
        return SizeChange(total, None, since)
    growth = float((current["last_bytes"] - current["first_bytes"]).sum())
    return SizeChange(total, growth, since)


@dataclass(frozen=True)
class StatsSummary:
    latest_at: datetime
    latest_tps: float
    average_tps: float | None
    latest_hit_percent: float | None
    range_hit_percent: float | None
    lowest_hit_percent: float | None


def stats_summary(frame: pd.DataFrame) -> StatsSummary | None:
    """From data.stats_summary (zero or one row)."""
    if frame.empty:
        return None
    row = frame.iloc[0]

    def number(name: str) -> float | None:
        value = row[name]
        return None if value is None or pd.isna(value) else float(value)

    return StatsSummary(pd.Timestamp(row["latest_at"]).to_pydatetime(),
                        number("latest_tps") or 0.0, number("average_tps"),
                        number("latest_hit_percent"), number("range_hit_percent"),
                        number("lowest_hit_percent"))


@dataclass(frozen=True)
class Shaped:
    """What the page draws from one window's reads, shaped once per window and shared by
    every session (read-only)."""

    change: pd.DataFrame  # size change per visible database (visible_sizes)
    hidden_databases: int
    active_peak: float | None
    active_hidden: bool  # every active session in the range was ours, and hidden
    connections_empty: bool
    statements: tuple[pd.DataFrame, int]  # the active statements table, and how many hidden
    figures: dict[str, go.Figure | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Headline:
    size: SizeChange | None
    utilization: Utilization | None
    own_sessions: int
    stats: StatsSummary | None
    active_latest: float | None  # average active sessions of the latest interval
    active_peak: float | None  # the largest bucket average in the range


@dataclass(frozen=True)
class MetricTile:
    """Arguments for one st.metric."""

    label: str
    value: str
    delta: str | None = None
    delta_color: DeltaColor = "off"
    help: str | None = None


def headline_tiles(h: Headline, range_phrase: str) -> list[MetricTile]:
    """The Overview's headline row, formatted for people; '—' where there is no sample."""
    tiles = []
    if h.size is None:
        tiles.append(MetricTile(f"Database size, {LATEST}", "—",
                                help="No database_size samples in the range"))
    else:
        over = f"since {h.size.since:%H:%M} UTC" if h.size.since else range_phrase
        grew = (f"{format_bytes(h.size.growth_bytes, signed=True)} {over}"
                if h.size.growth_bytes is not None else "one sample so far")
        tiles.append(MetricTile(
            f"Database size, {LATEST}", format_bytes(h.size.total_bytes), grew,
            help="The shown databases at the latest database_size sample; the change is "
                 "from the first sample in the range to the latest"))
    if h.utilization is None:
        tiles.append(MetricTile(f"Connections, {LATEST}", "—",
                                help="No connection_limits samples in the range"))
    else:
        u = h.utilization
        tiles.append(MetricTile(f"Connections, {LATEST}", u.tile_value, u.tile_delta, u.color,
                                help=u.tile_help(h.own_sessions)))
    if h.stats is None:
        tiles.append(MetricTile(f"Transactions/s, {LATEST}", "—",
                                help="No database_stats samples in the range"))
    else:
        s = h.stats
        tiles.append(MetricTile(
            f"Transactions/s, {LATEST}", format_rate(s.latest_tps),
            f"avg {format_rate(s.average_tps or 0.0)} {range_phrase}",
            help=f"Commits + rollbacks per second in the interval collected at "
                 f"{s.latest_at:%H:%M:%S} UTC; the average is over the range"))
    if h.stats is None or h.stats.latest_hit_percent is None:
        tiles.append(MetricTile(f"Cache hit ratio, {LATEST}", "—",
                                help="No block reads or hits in the latest interval"))
    else:
        s = h.stats
        lowest = s.lowest_hit_percent
        tiles.append(MetricTile(
            f"Cache hit ratio, {LATEST}", f"{s.latest_hit_percent:.2f} %",
            f"low {lowest:.2f} % {range_phrase}" if lowest is not None else None,
            "green" if lowest is None or lowest >= HEALTHY_HIT_PERCENT else "orange",
            help="blks_hit / (blks_hit + blks_read) over the shown databases in the latest "
                 "interval, and the lowest interval in the range; below "
                 f"{HEALTHY_HIT_PERCENT:g} % on an OLTP database usually means shared_buffers "
                 "is too small"))
    if h.active_latest is None:
        tiles.append(MetricTile(f"Active sessions, {LATEST}", "—",
                                help="No active_sessions samples in the range"))
    else:
        tiles.append(MetricTile(
            f"Active sessions, {LATEST}", f"{h.active_latest:.2f}",
            f"peak {h.active_peak:.2f} {range_phrase}" if h.active_peak is not None else None,
            help="Average active sessions in the latest stored interval, from one sample of "
                 "pg_stat_activity per second: how many sessions were running or waiting at "
                 "any moment, on average (the peak is the busiest chart bucket)"))
    return tiles


def transaction_rates(stats: pd.DataFrame) -> pd.DataFrame:
    """Per bucket: commits/s and rollbacks/s over the shown databases (columns of
    data.database_stats)."""
    columns = ["collected_at", "commits_per_second", "rollbacks_per_second"]
    if stats.empty:
        return pd.DataFrame(columns=columns)
    # Rows of one time cover the same interval: sum their deltas, keep the interval once.
    per_time = stats.groupby("collected_at", as_index=False).agg(
        interval_seconds=("interval_seconds", "max"), xact_commit=("xact_commit", "sum"),
        xact_rollback=("xact_rollback", "sum"))
    valid = per_time[per_time["interval_seconds"] > 0]
    out = pd.DataFrame({
        "collected_at": valid["collected_at"],
        "commits_per_second": valid["xact_commit"] / valid["interval_seconds"],
        "rollbacks_per_second": valid["xact_rollback"] / valid["interval_seconds"]})
    return out.reset_index(drop=True)


def rates_on_grid(stats: pd.DataFrame, collection: Collection) -> pd.DataFrame:
    """commits/s and rollbacks/s per bucket of the window, gaps NaN."""
    rates = transaction_rates(stats)
    wide = rates.set_index("collected_at") if not rates.empty else pd.DataFrame(
        columns=["commits_per_second", "rollbacks_per_second"])
    return complete_wide(wide, collection, found_nothing_is_zero=False)


def hit_ratio_on_grid(stats: pd.DataFrame, collection: Collection) -> pd.DataFrame:
    """hit_percent per bucket of the window (NaN for gaps and for buckets without block
    access)."""
    if stats.empty:
        return complete_wide(pd.DataFrame(columns=["hit_percent"]), collection, False)
    total = stats["blks_hit"] + stats["blks_read"]
    hits = pd.DataFrame({"hit_percent": (100.0 * stats["blks_hit"] / total.where(total > 0))
                         .to_numpy()}, index=stats["collected_at"])
    return complete_wide(hits, collection, found_nothing_is_zero=False)


def states_on_grid(connections: pd.DataFrame, collection: Collection,
                   show_own: bool) -> tuple[pd.DataFrame, float]:
    """Client backends per bucket by state (wide), ours left out unless shown; and the mean
    number of our sessions left out in the latest bucket."""
    hidden = 0.0
    if not connections.empty and not show_own:
        own = connections[connections["own"].astype(bool)]
        if not own.empty:
            latest = own["collected_at"].max()
            hidden = float(own.loc[own["collected_at"] == latest, "connections"].sum())
        connections = connections[~connections["own"].astype(bool)]
    wide = (connections.pivot_table(index="collected_at", columns="state",
                                    values="connections", aggfunc="sum")
            if not connections.empty else pd.DataFrame())
    return complete_wide(wide, collection), hidden


def growth_frame(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per bucket and database: size and growth since the database's first bucket in the
    range (columns collected_at, datname, size_bytes, growth_bytes)."""
    if sizes.empty:
        return sizes.assign(growth_bytes=pd.Series(dtype=float))
    ordered = sizes.sort_values(["datname", "collected_at"])
    first = ordered.groupby("datname")["size_bytes"].transform("first")
    return ordered.assign(growth_bytes=ordered["size_bytes"] - first).reset_index(drop=True)


def finite_max(frame: pd.DataFrame) -> float:
    values = frame.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return float(values.max()) if values.size else 0.0


def visible_sizes(sizes: pd.DataFrame, change: pd.DataFrame, own_databases: frozenset[str],
                  show_own: bool) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Sizes and size changes without our store database unless shown, and how many
    databases were left out."""
    hidden = sorted(set(sizes["datname"]) & own_databases) if not sizes.empty else []
    if show_own or not hidden:
        return sizes, change, 0
    return (sizes[~sizes["datname"].isin(own_databases)],
            change[~change["datname"].isin(own_databases)], len(hidden))


def usable_series(limits: pd.DataFrame) -> pd.Series | None:
    """Usable connections (max_connections minus reserved) per bucket (data.connection_limits)."""
    if limits.empty:
        return None
    index = pd.DatetimeIndex(pd.to_datetime(limits["collected_at"], utc=True))
    return pd.Series((limits["max_connections"] - limits["reserved_connections"]).to_numpy(),
                     index=index, dtype=float)
