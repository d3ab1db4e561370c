"""I/O and checkpoints page charts (pure): checkpoints timed vs requested, checkpoint write
and sync time, buffers written by who, bytes read and written by backend type."""

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

WRITER_COLORS = {"checkpointer": "#0969da", "background writer": "#1a7f37",
                 "backends": LIMIT_COLOR}


def checkpoints_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Checkpoints per bucket, timed (checkpoint_timeout) and requested (max_wal_size, the
    CHECKPOINT command, shutdown) stacked."""
    if history.empty:
        return None
    times = utc_naive(history["collected_at"])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=times, y=history["num_timed"], name="timed",
                         marker={"color": "#0969da"},
                         hovertemplate="%{y:,.0f}<extra>timed</extra>"))
    fig.add_trace(go.Bar(x=times, y=history["num_requested"], name="requested",
                         marker={"color": LIMIT_COLOR},
                         hovertemplate="%{y:,.0f}<extra>requested</extra>"))
    fig = finish_figure(fig, "Checkpoints: timed vs requested", "checkpoints", x_range)
    relayout(fig, {"barmode": "stack"}, axes={"y": {"rangemode": "tozero"}})
    return fig


def checkpoint_time_figure(history: pd.DataFrame,
                           x_range: TimeRange = None) -> go.Figure | None:
    """Seconds spent writing and syncing checkpoint files per bucket."""
    if history.empty:
        return None
    times = utc_naive(history["collected_at"])
    fig = go.Figure()
    for column, name, color in (("write_time_ms", "write", "#0969da"),
                                ("sync_time_ms", "sync", "#9a6700")):
        fig.add_trace(go.Scatter(
            x=times, y=history[column] / 1000, name=name, mode="lines+markers",
            line={"width": 2, "color": color}, marker={"size": 4},
            hovertemplate=f"%{{y:,.2f}} s<extra>{name}</extra>"))
    fig = finish_figure(fig, "Checkpoint write and sync time", "seconds", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig


def buffers_figure(buffers: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Buffers written per bucket by the checkpointer, the background writer and backends."""
    if buffers.empty:
        return None
    fig = go.Figure()
    for writer, rows in buffers.groupby("writer", sort=False):
        color = WRITER_COLORS.get(str(writer), SERIES_COLORS[0])
        fig.add_trace(go.Scatter(
            x=utc_naive(rows["collected_at"]), y=rows["buffers"], name=str(writer),
            mode="lines", line={"width": 2, "color": color},
            hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Buffers written, by who", "buffers (8 kB)", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig


def io_bytes_figure(io: pd.DataFrame, column: str, title: str,
                    x_range: TimeRange = None) -> go.Figure | None:
    """Bytes per bucket of one pg_stat_io column (read_bytes, write_bytes), stacked by
    backend type; None when nothing moved."""
    if io.empty or float(io[column].sum()) == 0:
        return None
    wide = io.pivot_table(index="collected_at", columns="backend_type", values=column,
                          aggfunc="sum", fill_value=0).sort_index()
    order = [c for c in wide.sum().sort_values(ascending=False).index if wide[c].sum() > 0]
    unit, divisor = byte_unit(float(wide.sum(axis=1).max()))
    fig = go.Figure()
    for i, name in enumerate(order):
        fig.add_trace(go.Bar(
            x=utc_naive(wide.index), y=wide[name] / divisor, name=str(name),
            marker={"color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            hovertemplate=f"%{{y:,.1f}} {unit}<extra>%{{fullData.name}}</extra>"))
    fig = finish_figure(fig, title, unit, x_range)
    relayout(fig, {"barmode": "stack"})
    return fig
