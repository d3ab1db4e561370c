"""Storage page charts (pure): disk usage over time with the capacity and the forecast's
line, tracked tables' sizes over time, and shared buffers by relation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    CHART_HEIGHT,
    FONT_FAMILY,
    LIMIT_COLOR,
    SERIES_COLORS,
    TEXT_COLOR,
    X_LABELS_MARGIN_PX,
    TimeRange,
    category_margin,
    finish_figure,
    plotly_text,
    relayout,
    translucent,
    utc_naive,
)
from dashboard.core.units import byte_unit

USED_COLOR = "#0969da"
WAL_COLOR = "#8250df"
FORECAST_COLOR = "#9a6700"


def disk_usage_figure(history: pd.DataFrame, forecast: pd.Series | None = None,
                      x_range: TimeRange = None) -> go.Figure | None:
    """What the cluster occupies (tablespaces + WAL, filled) and the WAL's part, with the
    configured capacity (dashed) and, when there is a forecast, its line from the last
    sample towards the capacity over the next part of the chart (dotted)."""
    if history.empty:
        return None
    ordered = history.sort_values("collected_at")
    capacity = None
    if forecast is not None and not pd.isna(forecast.get("capacity_bytes")):
        capacity = float(forecast["capacity_bytes"])
    largest = max(float(ordered["used_bytes"].max()), capacity or 0)
    unit, divisor = byte_unit(largest)
    times = utc_naive(ordered["collected_at"])
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=ordered["used_bytes"] / divisor, name="used (tablespaces + WAL)",
        mode="lines", line={"width": 2, "color": USED_COLOR}, fill="tozeroy",
        fillcolor=translucent(USED_COLOR, 0.15),
        hovertemplate=f"%{{y:,.2f}} {unit}<extra>used</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=ordered["wal_bytes"] / divisor, name="WAL", mode="lines",
        line={"width": 1.5, "color": WAL_COLOR},
        hovertemplate=f"%{{y:,.2f}} {unit}<extra>WAL</extra>"))
    end = x_range[1] if x_range else ordered["collected_at"].max()
    projection = _projection(ordered, forecast, x_range)
    if projection is not None:
        (x0, y0), (x1, y1) = projection
        fig.add_trace(go.Scatter(
            x=utc_naive([x0, x1]), y=[y0 / divisor, y1 / divisor], name="forecast",
            mode="lines", line={"width": 2, "color": FORECAST_COLOR, "dash": "dot"},
            hovertemplate=f"%{{y:,.2f}} {unit}<extra>forecast</extra>"))
        end = x1
    if capacity is not None:
        start = x_range[0] if x_range else ordered["collected_at"].min()
        fig.add_trace(go.Scatter(
            x=utc_naive([start, end]), y=[capacity / divisor] * 2, name="capacity",
            mode="lines", line={"width": 1.5, "color": LIMIT_COLOR, "dash": "dash"},
            hovertemplate=f"%{{y:,.2f}} {unit}<extra>capacity</extra>"))
    shown: TimeRange = (x_range[0], end) if x_range else None
    fig = finish_figure(fig, "Disk usage", f"bytes ({unit})", shown, full_width=True)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig


def _projection(history: pd.DataFrame, forecast: pd.Series | None,
                x_range: TimeRange) -> tuple[tuple[datetime, float], tuple[datetime, float]] | None:
    """The fitted growth's line from the newest sample, a quarter of the range ahead (or to
    the full date if sooner). None without enough history, when usage is not growing or is
    already full."""
    if (forecast is None or not bool(forecast.get("enough_history"))
            or str(forecast.get("status")) == "full"):
        return None
    growth = float(forecast["growth_bytes_per_day"])
    if not growth > 0:  # not growing, with or without a capacity
        return None
    last = history.iloc[-1]
    start = pd.Timestamp(last["collected_at"]).to_pydatetime()
    span = (x_range[1] - x_range[0]) if x_range else timedelta(days=1)
    end = start + span / 4
    full_at = forecast.get("full_at")
    if full_at is not None and not pd.isna(full_at):
        end = min(end, pd.Timestamp(full_at).to_pydatetime())
    used = float(forecast["used_bytes"])
    days = (end - start).total_seconds() / 86400
    return (start, used), (end, used + growth * days)


def table_size_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Total size over time, one line per table (columns collected_at, schemaname, relname,
    total_bytes); gaps where a table was not among those tracked."""
    if history.empty:
        return None
    frame = history.assign(table=history["schemaname"].astype(str) + "."
                           + history["relname"].astype(str))
    wide = frame.pivot_table(index="collected_at", columns="table", values="total_bytes",
                             aggfunc="mean").sort_index()
    order = list(wide.ffill().iloc[-1].sort_values(ascending=False).index)
    unit, divisor = byte_unit(float(wide.max().max()))
    times = utc_naive(wide.index)
    fig = go.Figure()
    for i, name in enumerate(order):
        fig.add_trace(go.Scatter(
            x=times, y=wide[name] / divisor, name=plotly_text(name), mode="lines",
            line={"width": 2, "color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            hovertemplate=f"%{{y:,.2f}} {unit}<extra>%{{fullData.name}}</extra>"))
    return finish_figure(fig, "Largest tables", f"total size ({unit})", x_range)


def buffer_cache_figure(table: pd.DataFrame, limit: int = 12) -> go.Figure | None:
    """Horizontal bars: the relations holding the most shared buffers (a buffer_cache_table)."""
    if table.empty:
        return None
    top = table.sort_values("in cache", ascending=False).head(limit).iloc[::-1]
    unit, divisor = byte_unit(float(top["in cache"].max()))
    fig = go.Figure(go.Bar(
        x=top["in cache"] / divisor, y=top["relation"].map(plotly_text), orientation="h",
        marker={"color": USED_COLOR},
        customdata=top["share of cache"] * 100,
        hovertemplate=f"%{{x:,.1f}} {unit} · %{{customdata:.1f}} % of shared buffers"
                      "<extra></extra>"))
    relayout(fig, {"template": "plotly_white", "height": max(CHART_HEIGHT, 28 * len(top) + 90),
                   "title": {"text": "Shared buffers by relation", "x": 0, "font": {"size": 15}},
                   "font": {"family": FONT_FAMILY, "size": 12, "color": TEXT_COLOR},
                   "margin": {"l": category_margin([str(n) for n in top["relation"]]),
                              "r": 8, "t": 48, "b": X_LABELS_MARGIN_PX + 4},
                   "showlegend": False},
             axes={"x": {"title": {"text": f"in shared buffers ({unit})", "font": {"size": 11}},
                         "gridcolor": "#eaeef2"},
                   "y": {"automargin": True}})
    return fig
