"""Locks page charts (pure): waiting sessions and longest wait, active sessions by wait event,
deadlocks and conflicts per database."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    SERIES_COLORS,
    TimeRange,
    finish_figure,
    translucent,
    utc_naive,
)
from dashboard.core.units import age_unit


def lock_history_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Sessions waiting for a lock (filled steps) and the longest wait (line, right axis),
    the largest per bucket."""
    if history.empty:
        return None
    ordered = history.sort_values("collected_at")
    times = utc_naive(ordered["collected_at"])
    unit, divisor = age_unit(float(ordered["longest_wait_seconds"].max()))
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=ordered["blocked_sessions"], name="sessions waiting for a lock",
        mode="lines", line={"width": 1, "color": LIMIT_COLOR, "shape": "hv"}, fill="tozeroy",
        fillcolor=translucent(LIMIT_COLOR, 0.35),
        hovertemplate="%{y:,.0f}<extra>waiting</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=ordered["longest_wait_seconds"] / divisor, name="longest wait",
        mode="lines", yaxis="y2", line={"width": 2, "color": "#0a3069"},
        hovertemplate=f"%{{y:,.1f}} {unit}<extra>longest wait</extra>"))
    fig = finish_figure(fig, "Lock waits", "sessions waiting", x_range)
    fig.update_layout(
        yaxis={"rangemode": "tozero"},
        yaxis2={"title": {"text": f"longest wait ({unit})", "font": {"size": 11}},
                "overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False,
                "tickmode": "auto", "nticks": 6, "zeroline": False})
    return fig


def wait_events_figure(frame: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Active sessions by wait event type, stacked (collected_at, wait_event_type,
    sessions)."""
    if frame.empty:
        return None
    wide = frame.pivot_table(index="collected_at", columns="wait_event_type",
                             values="sessions", aggfunc="sum", fill_value=0).sort_index()
    order = list(wide.mean().sort_values(ascending=False).index)
    fig = go.Figure()
    times = utc_naive(wide.index)
    for i, name in enumerate(order):
        color = WAIT_COLORS.get(str(name), SERIES_COLORS[i % len(SERIES_COLORS)])
        fig.add_trace(go.Scatter(
            x=times, y=wide[name], name=str(name), mode="lines", stackgroup="waits",
            line={"width": 0.8, "color": color}, fillcolor=translucent(color, 0.55),
            hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Active sessions by wait event type", "sessions", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def database_events_figure(events: pd.DataFrame,
                           x_range: TimeRange = None) -> go.Figure | None:
    """Deadlocks and recovery conflicts per bucket over all databases (bars); None when
    the range had neither."""
    if events.empty:
        return None
    per_time = events.groupby("collected_at", as_index=False)[["deadlocks", "conflicts"]].sum()
    if float(per_time[["deadlocks", "conflicts"]].sum().sum()) == 0:
        return None
    times = utc_naive(per_time["collected_at"])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=times, y=per_time["deadlocks"], name="deadlocks",
                         marker={"color": LIMIT_COLOR},
                         hovertemplate="%{y:,.0f}<extra>deadlocks</extra>"))
    fig.add_trace(go.Bar(x=times, y=per_time["conflicts"], name="recovery conflicts",
                         marker={"color": "#8250df"},
                         hovertemplate="%{y:,.0f}<extra>conflicts</extra>"))
    fig = finish_figure(fig, "Deadlocks and recovery conflicts", "events", x_range)
    fig.update_layout(barmode="stack", bargap=0.1)
    return fig


WAIT_COLORS: dict[str, str] = {
    "CPU": "#2da44e", "Lock": "#cf222e", "LWLock": "#bf3989", "IO": "#0969da",
    "IPC": "#8250df", "Client": "#54aeff", "Timeout": "#9a6700", "BufferPin": "#fb8f44",
    "Activity": "#8c959f", "Extension": "#6e7781",
}
