"""Locks page charts (pure): sessions waiting and the longest wait, deadlocks and conflicts
per database, on the window's bucket grid (NaN = a collection gap, drawn as a band).
Active sessions by wait event type come from dashboard/features/active_sessions/charts.py."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    TimeRange,
    add_gaps,
    finish_figure,
    relayout,
    translucent,
    utc_naive,
    whole_number_ticks,
)
from dashboard.core.timeseries import Gap
from dashboard.core.units import age_unit


def lock_history_figure(history: pd.DataFrame, gaps: Sequence[Gap],
                        x_range: TimeRange = None) -> go.Figure | None:
    """Sessions waiting for a lock (filled steps, whole numbers) and the longest wait (line,
    right axis), the largest per bucket (logic.history_on_grid)."""
    if history.empty or int(history.notna().sum().sum()) == 0:
        return None
    times = utc_naive(history.index)
    unit, divisor = age_unit(float(history["longest_wait_seconds"].max()))
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=history["blocked_sessions"], name="sessions waiting for a lock",
        mode="lines", line={"width": 1, "color": LIMIT_COLOR, "shape": "hv"}, fill="tozeroy",
        fillcolor=translucent(LIMIT_COLOR, 0.35), connectgaps=False,
        hovertemplate="%{y:,.0f}<extra>waiting</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=history["longest_wait_seconds"] / divisor, name="longest wait",
        mode="lines", yaxis="y2", line={"width": 2, "color": "#0a3069"}, connectgaps=False,
        hovertemplate=f"%{{y:,.1f}} {unit}<extra>longest wait</extra>"))
    fig = finish_figure(fig, "Lock waits", "sessions waiting", x_range)
    relayout(fig, {"yaxis2": {"title": {"text": f"longest wait ({unit})", "font": {"size": 11}},
                "overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False,
                "tickmode": "auto", "nticks": 6, "zeroline": False}})
    whole_number_ticks(fig, float(history["blocked_sessions"].max()))
    return add_gaps(fig, gaps)


def database_events_figure(events: pd.DataFrame, gaps: Sequence[Gap],
                           x_range: TimeRange = None) -> go.Figure | None:
    """Deadlocks and recovery conflicts per bucket (bars, logic.events_on_grid); None when
    the range had neither."""
    if events.empty or float(events[["deadlocks", "conflicts"]].sum().sum()) == 0:
        return None
    times = utc_naive(events.index)
    fig = go.Figure()
    fig.add_trace(go.Bar(x=times, y=events["deadlocks"], name="deadlocks",
                         marker={"color": LIMIT_COLOR},
                         hovertemplate="%{y:,.0f}<extra>deadlocks</extra>"))
    fig.add_trace(go.Bar(x=times, y=events["conflicts"], name="recovery conflicts",
                         marker={"color": "#8250df"},
                         hovertemplate="%{y:,.0f}<extra>conflicts</extra>"))
    fig = finish_figure(fig, "Deadlocks and recovery conflicts", "events", x_range)
    relayout(fig, {"barmode": "stack", "bargap": 0.1})
    whole_number_ticks(fig, float(events[["deadlocks", "conflicts"]].sum(axis=1).max()))
    return add_gaps(fig, gaps)
