"""Kasho Ops page charts (pure): run duration and lateness per group, store size per day by
table, and the growth forecast."""

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
from dashboard.core.units import byte_unit

SHOWN = 8  # series per chart; the rest are folded into "other" or left to the table


def per_group_figure(history: pd.DataFrame, column: str, title: str,
                     x_range: TimeRange = None) -> go.Figure | None:
    """One line per metric group of `column` (ms) per bucket; None when there is nothing."""
    if history.empty or history[column].isna().all():
        return None
    history = history.assign(**{column: pd.to_numeric(history[column], errors="coerce")})
    worst = history.groupby("metric_group")[column].max().sort_values(ascending=False)
    history = history[history["metric_group"].isin(worst.index[:SHOWN])]
    fig = go.Figure()
    for i, (group, rows) in enumerate(history.groupby("metric_group", sort=True)):
        fig.add_trace(go.Scatter(
            x=utc_naive(rows["collected_at"]), y=rows[column], name=str(group), mode="lines",
            line={"width": 1.6, "color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            hovertemplate="%{y:,.1f} ms<extra>%{fullData.name}</extra>"))
    shown = f" ({SHOWN} highest groups)" if len(worst) > SHOWN else ""
    fig = finish_figure(fig, title + shown, "ms", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig


def store_size_figure(sizes: pd.DataFrame) -> go.Figure | None:
    """The store's daily partitions: bytes per UTC day, stacked by table."""
    if sizes.empty:
        return None
    wide = sizes.pivot_table(index="day", columns="table_name", values="bytes", aggfunc="sum",
                             fill_value=0).sort_index()
    order = list(wide.sum().sort_values(ascending=False).index)
    if len(order) > SHOWN:
        wide["other tables"] = wide[order[SHOWN - 1:]].sum(axis=1)
        order = [*order[:SHOWN - 1], "other tables"]
    unit, divisor = byte_unit(float(wide.sum(axis=1).max()))
    fig = go.Figure()
    for i, table in enumerate(order):
        fig.add_trace(go.Bar(x=pd.to_datetime(wide.index), y=wide[table] / divisor,
                             name=str(table), marker={"color": SERIES_COLORS[i % len(
                                 SERIES_COLORS)]},
                             hovertemplate=f"%{{y:,.1f}} {unit}<extra>%{{fullData.name}}</extra>"))
    fig = finish_figure(fig, "Store size per day, by table", unit, None)
    relayout(fig, {"barmode": "stack"}, axes={"x": {"title": {"text": "day (UTC)"}}})
    return fig


def forecast_figure(forecast: pd.DataFrame, steady_bytes: float) -> go.Figure | None:
    """The projected store size per day, with the steady state (every retention window
    full) as a dashed line."""
    if forecast.empty:
        return None
    unit, divisor = byte_unit(float(max(forecast["bytes"].max(), steady_bytes)))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=pd.to_datetime(forecast["day"]), y=forecast["bytes"] / divisor,
                             name="projected size", mode="lines",
                             line={"width": 2, "color": "#0969da"},
                             hovertemplate=f"%{{y:,.1f}} {unit}<extra>projected</extra>"))
    fig.add_hline(y=steady_bytes / divisor, line={"color": LIMIT_COLOR, "dash": "dash",
                                                  "width": 1.5},
                  annotation_text="steady state", annotation_position="top left")
    fig = finish_figure(fig, "Store growth forecast", unit, None, full_width=True)
    relayout(fig, axes={"x": {"title": {"text": "day (UTC)"}}, "y": {"rangemode": "tozero"}})
    return fig
