"""Connections page charts (pure): utilization against the limit, a breakdown over time and
session ages, in the shared look of dashboard/core/figures.py. Each returns None when there
is nothing to draw."""

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
from dashboard.core.units import age_unit
from dashboard.features.connections.logic import WARN_PERCENT

TOP_SERIES = 8
OTHER_COLOR = "#d0d7de"


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
        fillcolor=translucent(SERIES_COLORS[0], 0.25),
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
            fillcolor=translucent(color, 0.55),
            hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
    if rest:
        fig.add_trace(go.Scatter(
            x=times, y=wide[rest].sum(axis=1), name=f"other ({len(rest)})", mode="lines",
            stackgroup="series", line={"width": 0.8, "color": OTHER_COLOR},
            fillcolor=translucent(OTHER_COLOR, 0.7),
            hovertemplate="%{y:,.1f}<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, title, "connections", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def session_ages_figure(ages: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """The oldest running query, open transaction and idle-in-transaction session over
    time (columns of data.session_ages)."""
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


