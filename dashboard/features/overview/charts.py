"""Overview charts (pure): database growth, connections by state against the usable limit,
transactions per second and the cache hit ratio, each None when its frame has no data.
Frames arrive on the window's full bucket grid (NaN = a collection gap); gaps are drawn as
bands named on hover."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    SERIES_COLORS,
    STATE_COLORS,
    TimeRange,
    add_gaps,
    add_stacked_areas,
    finish_figure,
    relayout,
    utc_naive,
    whole_number_ticks,
)
from dashboard.core.timeseries import Gap
from dashboard.core.units import byte_unit

TOP_DATABASES = 8


def database_growth_figure(growth: pd.DataFrame, title: str, x_range: TimeRange = None,
                           top: int = TOP_DATABASES) -> go.Figure | None:
    """Each database's growth since its first sample in the range (so a few MB on a
    database of many GB is visible), absolute size on hover; the `top` largest.

    Columns: collected_at, datname, size_bytes, growth_bytes (logic.growth_frame).
    """
    if growth.empty:
        return None
    latest = growth.sort_values("collected_at").groupby("datname")["size_bytes"].last()
    keep = list(latest.sort_values(ascending=False).index[:top])
    shown = growth[growth["datname"].isin(keep)]
    largest = float(shown["growth_bytes"].abs().max())
    unit, divisor = byte_unit(largest if largest > 0 else 1024.0)
    size_unit, size_divisor = byte_unit(float(shown["size_bytes"].max()))
    fig = go.Figure()
    for i, name in enumerate(keep):
        part = shown[shown["datname"] == name].sort_values("collected_at")
        fig.add_trace(go.Scatter(
            x=utc_naive(part["collected_at"]), y=part["growth_bytes"] / divisor, name=str(name),
            mode="lines", line={"width": 2, "color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            customdata=part["size_bytes"] / size_divisor,
            hovertemplate=(f"%{{y:+,.2f}} {unit} (%{{customdata:,.2f}} {size_unit})"
                           "<extra>%{fullData.name}</extra>")))
    fig = finish_figure(fig, title, f"growth ({unit})", x_range)
    relayout(fig, axes={"y": {"zeroline": True, "zerolinecolor": "#d0d7de"}})
    return fig


def connections_figure(states: pd.DataFrame, usable: pd.Series | None, gaps: Sequence[Gap],
                       x_range: TimeRange = None) -> go.Figure | None:
    """Client backends by state, stacked, against the usable connections (max_connections
    minus reserved, dashed). states: bucket x state (mean backends); usable: per bucket."""
    if states.empty or states.notna().sum().sum() == 0:
        return None
    known = [s for s in STATE_COLORS if s in states.columns]
    ordered = known + sorted(str(s) for s in states.columns if s not in STATE_COLORS)
    fig = add_stacked_areas(go.Figure(), states[ordered],
                            [STATE_COLORS.get(state, "#afb8c1") for state in ordered])
    largest = float(states.sum(axis=1).max())
    if usable is not None and not usable.dropna().empty:
        fig.add_trace(go.Scatter(
            x=utc_naive(usable.index), y=usable, name="usable (max_connections − reserved)",
            mode="lines", line={"width": 1.5, "color": LIMIT_COLOR, "dash": "dash"},
            connectgaps=False, hovertemplate="%{y:,.0f}<extra>usable</extra>"))
        largest = max(largest, float(usable.max()))
    fig = finish_figure(fig, "Connections by state", "connections", x_range)
    whole_number_ticks(fig, largest)
    return add_gaps(fig, gaps)


def transactions_figure(rates: pd.DataFrame, gaps: Sequence[Gap],
                        x_range: TimeRange = None) -> go.Figure | None:
    """Commits and rollbacks per second (bucket x commits_per_second, rollbacks_per_second)."""
    if rates.empty or rates.notna().sum().sum() == 0:
        return None
    fig = go.Figure()
    times = utc_naive(rates.index)
    fig.add_trace(go.Scatter(x=times, y=rates["commits_per_second"], name="commits/s",
                             mode="lines", line={"width": 2, "color": "#0969da"},
                             connectgaps=False,
                             hovertemplate="%{y:,.1f}/s<extra>commits</extra>"))
    fig.add_trace(go.Scatter(x=times, y=rates["rollbacks_per_second"], name="rollbacks/s",
                             mode="lines", line={"width": 2, "color": "#cf222e"},
                             connectgaps=False,
                             hovertemplate="%{y:,.2f}/s<extra>rollbacks</extra>"))
    fig = finish_figure(fig, "Transactions per second", "transactions/s", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return add_gaps(fig, gaps)


def cache_hit_figure(hits: pd.DataFrame, gaps: Sequence[Gap],
                     x_range: TimeRange = None) -> go.Figure | None:
    """Shared-buffer hit ratio per bucket (bucket x hit_percent); buckets without block
    access and collection gaps are gaps."""
    if hits.empty or hits["hit_percent"].notna().sum() == 0:
        return None
    fig = go.Figure(go.Scatter(
        x=utc_naive(hits.index), y=hits["hit_percent"], name="hit ratio",
        mode="lines", line={"width": 2, "color": "#1a7f37"}, connectgaps=False,
        hovertemplate="%{y:.2f} %<extra>cache hit</extra>"))
    fig = finish_figure(fig, "Cache hit ratio", "hit ratio (%)", x_range, legend=False)
    low = float(hits["hit_percent"].min())
    relayout(fig, axes={"y": {"range": [max(0.0, min(low - 1.0, 90.0)), 100.5],
                              "ticksuffix": " %"}})
    return add_gaps(fig, gaps)
