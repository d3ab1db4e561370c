"""PgBouncer charts for the Connections page (pure): clients waiting and the longest wait,
server connections per pool, average query and transaction time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    SERIES_COLORS,
    TimeRange,
    finish_figure,
    relayout,
    utc_naive,
)


def waiting_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Clients waiting for a server connection (bars, all pools) and the longest wait (line,
    right axis), the worst sample per bucket."""
    if history.empty:
        return None
    per = history.groupby("collected_at", as_index=False).agg(
        cl_waiting=("cl_waiting", "sum"), maxwait_seconds=("maxwait_seconds", "max"))
    times = utc_naive(per["collected_at"])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=times, y=per["cl_waiting"], name="clients waiting",
                         marker={"color": LIMIT_COLOR},
                         hovertemplate="%{y:,.0f}<extra>waiting</extra>"))
    fig.add_trace(go.Scatter(x=times, y=per["maxwait_seconds"], name="longest wait",
                             yaxis="y2", mode="lines", line={"width": 2, "color": "#0a3069"},
                             hovertemplate="%{y:,.2f} s<extra>longest wait</extra>"))
    fig = finish_figure(fig, "Clients waiting for a server connection", "clients", x_range)
    relayout(fig, {"yaxis": {"rangemode": "tozero"},
                   "yaxis2": {"title": {"text": "longest wait (s)", "font": {"size": 11}},
                              "overlaying": "y", "side": "right", "rangemode": "tozero",
                              "showgrid": False, "tickformat": ".3~f"}})
    return fig


def servers_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Server connections each pool holds open (solid) and how many are busy (dotted)."""
    if history.empty:
        return None
    fig = go.Figure()
    for i, (pool, rows) in enumerate(history.groupby("pool", sort=True)):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        times = utc_naive(rows["collected_at"])
        fig.add_trace(go.Scatter(x=times, y=rows["sv_open"], name=f"{pool} open",
                                 mode="lines", line={"width": 2, "color": color},
                                 hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
        fig.add_trace(go.Scatter(x=times, y=rows["sv_active"], name=f"{pool} active",
                                 mode="lines", line={"width": 1.5, "color": color,
                                                     "dash": "dot"},
                                 hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Server connections per pool", "server connections", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig


def timings_figure(averages: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Average query, transaction and wait time per bucket (ms)."""
    if averages.empty:
        return None
    times = utc_naive(averages["collected_at"])
    fig = go.Figure()
    for column, color in (("avg query (ms)", "#0969da"), ("avg transaction (ms)", "#8250df"),
                          ("avg wait (ms)", LIMIT_COLOR)):
        fig.add_trace(go.Scatter(x=times, y=averages[column], name=column.removesuffix(" (ms)"),
                                 mode="lines", line={"width": 2, "color": color},
                                 hovertemplate="%{y:,.2f} ms<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Average query and transaction time through PgBouncer", "ms",
                        x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig
