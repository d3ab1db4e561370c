"""Connections page charts (pure): use against the usable limit, a breakdown over time and
session ages, on the window's bucket grid (NaN = a collection gap, drawn as a band named on
hover). Each returns None when there is nothing to draw."""

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
    translucent,
    utc_naive,
    whole_number_ticks,
)
from dashboard.core.timeseries import Gap
from dashboard.core.units import age_unit
from dashboard.core.utilization import WARN_PERCENT

TOP_SERIES = 8
OTHER_COLOR = "#d0d7de"


def _empty(wide: pd.DataFrame) -> bool:
    return wide.empty or wide.columns.empty or int(wide.notna().sum().sum()) == 0


def utilization_figure(use: pd.DataFrame, gaps: Sequence[Gap],
                       x_range: TimeRange = None) -> go.Figure | None:
    """Client connections against the usable connections (max_connections minus reserved)
    and the warning level (logic.use_on_grid)."""
    if _empty(use):
        return None
    times = utc_naive(use.index)
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=use["client_connections"], name="in use (client backends)", mode="lines",
        line={"width": 1.5, "color": SERIES_COLORS[0]}, fill="tozeroy", connectgaps=False,
        fillcolor=translucent(SERIES_COLORS[0], 0.25),
        hovertemplate="%{y:,.1f}<extra>in use</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=use["usable"], name="usable (max_connections − reserved)", mode="lines",
        line={"width": 2, "color": LIMIT_COLOR, "dash": "dash"}, connectgaps=False,
        hovertemplate="%{y:,.0f}<extra>usable</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=use["usable"] * WARN_PERCENT / 100, name=f"{WARN_PERCENT:g} % of usable",
        mode="lines", line={"width": 1, "color": "#9a6700", "dash": "dot"}, connectgaps=False,
        hovertemplate="%{y:,.0f}<extra>warning</extra>"))
    fig = finish_figure(fig, "Connections against the usable limit", "connections", x_range,
                        full_width=True)
    whole_number_ticks(fig, float(use.max().max()))
    return add_gaps(fig, gaps)


def breakdown_figure(wide: pd.DataFrame, gaps: Sequence[Gap], title: str,
                     x_range: TimeRange = None, top: int = TOP_SERIES) -> go.Figure | None:
    """Stacked connections over time per series (logic.breakdown_on_grid); the `top`
    largest series by mean, the rest summed as "other"."""
    if _empty(wide):
        return None
    order = list(wide.mean().sort_values(ascending=False).index)
    if order and all(s in STATE_COLORS for s in order):
        order = [s for s in STATE_COLORS if s in order]
    keep, rest = order[:top], order[top:]
    shown = wide[keep].copy()
    colors = [STATE_COLORS.get(str(name), SERIES_COLORS[i % len(SERIES_COLORS)])
              for i, name in enumerate(keep)]
    if rest:
        shown[f"other ({len(rest)})"] = wide[rest].sum(axis=1, min_count=1)
        colors.append(OTHER_COLOR)
    shown.columns = [str(c) or "(empty)" for c in shown.columns]
    fig = add_stacked_areas(go.Figure(), shown, colors)
    fig = finish_figure(fig, title, "connections", x_range)
    whole_number_ticks(fig, float(shown.sum(axis=1).max()))
    return add_gaps(fig, gaps)


def session_ages_figure(ages: pd.DataFrame, gaps: Sequence[Gap],
                        x_range: TimeRange = None) -> go.Figure | None:
    """The oldest running query, open transaction and idle-in-transaction session over
    time (logic.ages_on_grid)."""
    if _empty(ages):
        return None
    series = [("longest_transaction_seconds", "oldest transaction", SERIES_COLORS[0]),
              ("longest_query_seconds", "longest running query", "#2da44e"),
              ("longest_idle_in_transaction_seconds", "longest idle in transaction",
               STATE_COLORS["idle in transaction"])]
    unit, divisor = age_unit(float(ages[[s[0] for s in series]].max().max()))
    times = utc_naive(ages.index)
    fig = go.Figure()
    for column, name, color in series:
        fig.add_trace(go.Scatter(
            x=times, y=ages[column] / divisor, name=name, mode="lines", connectgaps=False,
            line={"width": 2, "color": color},
            hovertemplate=f"%{{y:,.1f}} {unit}<extra>%{{fullData.name}}</extra>"))
    fig = finish_figure(fig, "Oldest query, transaction and idle transaction", f"age ({unit})",
                        x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return add_gaps(fig, gaps)
