"""Chart builders of the Connections and Locks pages: pure functions from DataFrames to
plotly Figures, in the look of dashboard/charts.py. Each returns None when there is nothing
to draw. The pages' tables and headline numbers are in activity_tables.py."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.activity_tables import WARN_PERCENT
from dashboard.charts import (
    LIMIT_COLOR,
    SERIES_COLORS,
    STATE_COLORS,
    TimeRange,
    _translucent,
    finish_figure,
    utc_naive,
)

TOP_SERIES = 8
OTHER_COLOR = "#d0d7de"
WAIT_COLORS: dict[str, str] = {
    "CPU": "#2da44e", "Lock": "#cf222e", "LWLock": "#bf3989", "IO": "#0969da",
    "IPC": "#8250df", "Client": "#54aeff", "Timeout": "#9a6700", "BufferPin": "#fb8f44",
    "Activity": "#8c959f", "Extension": "#6e7781",
}


# -- connections ----------------------------------------------------------------------------

def utilization_figure(limits: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Client connections over time against the limit for ordinary roles (max_connections
    minus reserved) and max_connections itself."""
    if limits.empty:
        return None
    ordered = limits.sort_values("collected_at")
    times = utc_naive(ordered["collected_at"])
    usable = ordered["max_connections"] - ordered["reserved_connections"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=ordered["client_connections"], name="client connections", mode="lines",
        line={"width": 1.5, "color": SERIES_COLORS[0]}, fill="tozeroy",
        fillcolor=_translucent(SERIES_COLORS[0], 0.25),
        hovertemplate="%{y:,.0f}<extra>in use</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=usable, name="limit (max_connections − reserved)", mode="lines",
        line={"width": 2, "color": LIMIT_COLOR, "dash": "dash"},
        hovertemplate="%{y:,.0f}<extra>limit</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=usable * WARN_PERCENT / 100, name=f"{WARN_PERCENT:g} % of the limit",
        mode="lines", line={"width": 1, "color": "#9a6700", "dash": "dot"},
        hovertemplate="%{y:,.0f}<extra>warning</extra>"))
    fig = finish_figure(fig, "Connections against the limit", "connections", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def breakdown_figure(frame: pd.DataFrame, title: str, x_range: TimeRange = None,
                     top: int = TOP_SERIES) -> go.Figure | None:
    """Stacked connections over time per series (collected_at, series, connections); the
    `top` largest series by mean, the rest summed as "other"."""
    if frame.empty:
        return None
    wide = frame.pivot_table(index="collected_at", columns="series", values="connections",
                             aggfunc="sum", fill_value=0).sort_index()
    order = list(wide.mean().sort_values(ascending=False).index)
    if order and all(s in STATE_COLORS for s in order):
        order = [s for s in STATE_COLORS if s in order]
    keep, rest = order[:top], order[top:]
    fig = go.Figure()
    times = utc_naive(wide.index)
    for i, name in enumerate(keep):
        color = STATE_COLORS.get(str(name), SERIES_COLORS[i % len(SERIES_COLORS)])
        fig.add_trace(go.Scatter(
            x=times, y=wide[name], name=str(name) or "(empty)", mode="lines",
            stackgroup="series", line={"width": 0.8, "color": color},
            fillcolor=_translucent(color, 0.55),
            hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
    if rest:
        fig.add_trace(go.Scatter(
            x=times, y=wide[rest].sum(axis=1), name=f"other ({len(rest)})", mode="lines",
            stackgroup="series", line={"width": 0.8, "color": OTHER_COLOR},
            fillcolor=_translucent(OTHER_COLOR, 0.7),
            hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, title, "connections", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def age_unit(largest_seconds: float) -> tuple[str, float]:
    if largest_seconds >= 2 * 3600:
        return "h", 3600.0
    if largest_seconds >= 120:
        return "min", 60.0
    return "s", 1.0


def session_ages_figure(ages: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """The oldest running query, open transaction and idle-in-transaction session over
    time (columns of activity_data.session_ages)."""
    if ages.empty:
        return None
    series = [("longest_transaction_seconds", "oldest transaction", SERIES_COLORS[0]),
              ("longest_query_seconds", "longest running query", "#2da44e"),
              ("longest_idle_in_transaction_seconds", "longest idle in transaction",
               STATE_COLORS["idle in transaction"])]
    unit, divisor = age_unit(float(ages[[s[0] for s in series]].max().max()))
    ordered = ages.sort_values("collected_at")
    times = utc_naive(ordered["collected_at"])
    fig = go.Figure()
    for column, name, color in series:
        fig.add_trace(go.Scatter(
            x=times, y=ordered[column] / divisor, name=name, mode="lines",
            line={"width": 2, "color": color},
            hovertemplate=f"%{{y:,.1f}} {unit}<extra>%{{fullData.name}}</extra>"))
    fig = finish_figure(fig, "Oldest query, transaction and idle transaction", f"age ({unit})",
                  x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


# -- locks history --------------------------------------------------------------------------

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
        fillcolor=_translucent(LIMIT_COLOR, 0.35),
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
            line={"width": 0.8, "color": color}, fillcolor=_translucent(color, 0.55),
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
