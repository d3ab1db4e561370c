"""Overview charts (pure): database size, connections against the limit, transactions per
second and the cache hit ratio, each None when its frame has no data."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    SERIES_COLORS,
    STATE_COLORS,
    TimeRange,
    finish_figure,
    translucent,
    utc_naive,
)
from dashboard.core.units import byte_unit
from dashboard.features.overview.logic import transaction_rates

TOP_DATABASES = 8


def database_size_figure(sizes: pd.DataFrame, x_range: TimeRange = None,
                         top: int = TOP_DATABASES) -> go.Figure | None:
    """Size over time, one line per database; beyond the `top` largest, the rest are summed.

    Columns: collected_at, datname, size_bytes.
    """
    if sizes.empty:
        return None
    wide = sizes.pivot_table(index="collected_at", columns="datname", values="size_bytes",
                             aggfunc="mean")
    latest = wide.ffill().iloc[-1].sort_values(ascending=False)
    keep = list(latest.index[:top])
    rest = [name for name in latest.index if name not in keep]
    if rest:
        wide[f"other ({len(rest)} databases)"] = wide[rest].sum(axis=1, min_count=1)
        wide = wide[[*keep, f"other ({len(rest)} databases)"]]
    else:
        wide = wide[keep]
    unit, divisor = byte_unit(float(wide.max().max()))
    fig = go.Figure()
    times = utc_naive(wide.index)
    for i, name in enumerate(wide.columns):
        fig.add_trace(go.Scatter(
            x=times, y=wide[name] / divisor, name=str(name), mode="lines",
            line={"width": 2, "color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            connectgaps=False,
            hovertemplate=f"%{{y:,.2f}} {unit}<extra>%{{fullData.name}}</extra>"))
    return finish_figure(fig, "Database size", f"size ({unit})", x_range)


def connections_figure(connections: pd.DataFrame, limits: pd.DataFrame,
                       x_range: TimeRange = None) -> go.Figure | None:
    """Client backends by state, stacked, with max_connections as a dashed line.

    connections columns: collected_at, state, connections;
    limits columns: collected_at, max_connections (others ignored).
    """
    if connections.empty and limits.empty:
        return None
    fig = go.Figure()
    if not connections.empty:
        wide = connections.pivot_table(index="collected_at", columns="state",
                                       values="connections", aggfunc="sum", fill_value=0)
        known = [s for s in STATE_COLORS if s in wide.columns]
        states = known + sorted(s for s in wide.columns if s not in STATE_COLORS)
        times = utc_naive(wide.index)
        for state in states:
            color = STATE_COLORS.get(state, "#afb8c1")
            fig.add_trace(go.Scatter(
                x=times, y=wide[state], name=state, mode="lines", stackgroup="states",
                line={"width": 0.8, "color": color}, fillcolor=translucent(color, 0.55),
                hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"))
    if not limits.empty:
        ordered = limits.sort_values("collected_at")
        fig.add_trace(go.Scatter(
            x=utc_naive(ordered["collected_at"]), y=ordered["max_connections"],
            name="max_connections", mode="lines",
            line={"width": 1.5, "color": LIMIT_COLOR, "dash": "dash"},
            hovertemplate="%{y:,.0f}<extra>max_connections</extra>"))
    fig = finish_figure(fig, "Connections by state", "connections", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def transactions_figure(stats: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Commits and rollbacks per second over all databases.

    Columns: collected_at, interval_seconds, xact_commit, xact_rollback (per-interval deltas).
    """
    rates = transaction_rates(stats)
    if rates.empty:
        return None
    fig = go.Figure()
    times = utc_naive(rates["collected_at"])
    fig.add_trace(go.Scatter(x=times, y=rates["commits_per_second"], name="commits/s",
                             mode="lines", line={"width": 2, "color": "#0969da"},
                             hovertemplate="%{y:,.1f}/s<extra>commits</extra>"))
    fig.add_trace(go.Scatter(x=times, y=rates["rollbacks_per_second"], name="rollbacks/s",
                             mode="lines", line={"width": 2, "color": "#cf222e"},
                             hovertemplate="%{y:,.2f}/s<extra>rollbacks</extra>"))
    fig = finish_figure(fig, "Transactions per second", "transactions/s", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def cache_hit_figure(stats: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Shared-buffer hit ratio, blks_hit / (blks_hit + blks_read), over all databases.

    Columns: collected_at, blks_hit, blks_read. Intervals without block access are gaps.
    """
    if stats.empty:
        return None
    per_time = stats.groupby("collected_at", as_index=False)[["blks_hit", "blks_read"]].sum()
    total = per_time["blks_hit"] + per_time["blks_read"]
    per_time["hit_percent"] = (100.0 * per_time["blks_hit"] / total.where(total > 0))
    if per_time["hit_percent"].isna().all():
        return None
    fig = go.Figure(go.Scatter(
        x=utc_naive(per_time["collected_at"]), y=per_time["hit_percent"], name="hit ratio",
        mode="lines", line={"width": 2, "color": "#1a7f37"}, connectgaps=False,
        hovertemplate="%{y:.2f} %<extra>cache hit</extra>"))
    fig = finish_figure(fig, "Cache hit ratio", "hit ratio (%)", x_range, legend=False)
    low = float(per_time["hit_percent"].min())
    fig.update_yaxes(range=[max(0.0, min(low - 1.0, 90.0)), 100.5], ticksuffix=" %")
    return fig


