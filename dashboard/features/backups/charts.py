"""Backups page charts (pure): the backups and the restorable window on one timeline, WAL
archived and failed per interval, and the archive backlog."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    SERIES_COLORS,
    TimeRange,
    category_margin,
    finish_figure,
    relayout,
    translucent,
    utc_naive,
)
from dashboard.core.units import byte_unit

TYPE_COLORS = {"full": "#0969da", "diff": "#8250df", "incr": "#54aeff"}
TYPE_ROWS = {"full": "full", "diff": "differential", "incr": "incremental"}
WINDOW_COLOR = "#1a7f37"


def backup_timeline_figure(backups: pd.DataFrame, drills: pd.DataFrame,
                           pitr_start: datetime | None, pitr_end: datetime | None,
                           now: datetime) -> go.Figure | None:
    """Each backup as a bar from start to stop on its type's row, the PITR window as a band
    and restore drills as markers, from the oldest backup to now."""
    if backups.empty:
        return None
    fig = go.Figure()
    for backup_type, row_label in TYPE_ROWS.items():
        part = backups[backups["backup_type"] == backup_type]
        if part.empty:
            continue
        starts = utc_naive(part["start_time"])
        # Bars at least a minute wide, so a 3-second incremental is still visible.
        widths = [max((stop - start).total_seconds(), 60) * 1000 for start, stop in
                  zip(part["start_time"], part["stop_time"], strict=True)]
        fig.add_trace(go.Bar(
            base=starts, x=widths, y=[row_label] * len(part), orientation="h",
            name=row_label, marker={"color": TYPE_COLORS[backup_type]},
            customdata=list(zip(part["label"], part["duration_seconds"], strict=True)),
            hovertemplate="%{customdata[0]}<br>%{base|%Y-%m-%d %H:%M:%S} UTC, "
                          "%{customdata[1]:.0f} s<extra>" + row_label + "</extra>"))
    if pitr_start is not None and pitr_end is not None:
        fig.add_vrect(x0=utc_naive([pitr_start])[0], x1=utc_naive([pitr_end])[0],
                      fillcolor=translucent(WINDOW_COLOR, 0.12), line_width=0, layer="below")
    if not drills.empty:
        passed = drills["outcome"] == "passed"
        for mask, label, color, symbol in ((passed, "drill passed", WINDOW_COLOR, "diamond"),
                                           (~passed, "drill failed", LIMIT_COLOR, "x")):
            part = drills[mask]
            if part.empty:
                continue
            fig.add_trace(go.Scatter(
                x=utc_naive(part["started_at"]), y=["restore drills"] * len(part),
                mode="markers", name=label,
                marker={"color": color, "symbol": symbol, "size": 11},
                hovertemplate="%{x|%Y-%m-%d %H:%M} UTC<extra>" + label + "</extra>"))
    oldest = pd.Timestamp(backups["start_time"].min()).to_pydatetime()
    span = now - oldest
    fig = finish_figure(fig, "Backups and the restorable window (green)", "",
                        (oldest - span * 0.02, now + span * 0.02))
    # x: bars are a date base plus a duration in milliseconds
    rows = ["restore drills", "incremental", "differential", "full"]
    relayout(fig, {"barmode": "overlay", "hovermode": "closest", "bargap": 0.35,
                   "margin": {"l": category_margin(rows)}},
             axes={"x": {"type": "date"},
                   "y": {"categoryorder": "array", "showgrid": False, "categoryarray": rows}})
    return fig


def archiving_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """WAL files archived (bars) and failed attempts (red bars) per bucket."""
    if history.empty:
        return None
    times = utc_naive(history["collected_at"])
    fig = go.Figure()
    fig.add_trace(go.Bar(x=times, y=history["archived"], name="archived",
                         marker={"color": SERIES_COLORS[0]},
                         hovertemplate="%{y:,.0f}<extra>archived</extra>"))
    fig.add_trace(go.Bar(x=times, y=history["failed"], name="failed attempts",
                         marker={"color": LIMIT_COLOR},
                         hovertemplate="%{y:,.0f}<extra>failed</extra>"))
    fig = finish_figure(fig, "WAL files archived and failed attempts", "WAL files", x_range)
    relayout(fig, {"barmode": "group", "bargap": 0.15}, axes={"y": {"rangemode": "tozero"}})
    return fig


def backlog_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """WAL not archived yet: bytes (filled) and .ready files (line, right axis)."""
    if history.empty or history["archive_lag_bytes"].isna().all():
        return None
    times = utc_naive(history["collected_at"])
    unit, divisor = byte_unit(float(history["archive_lag_bytes"].max()))
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=history["archive_lag_bytes"] / divisor, name="not archived yet",
        mode="lines", line={"width": 1.5, "color": SERIES_COLORS[3], "shape": "hv"},
        fill="tozeroy", fillcolor=translucent(SERIES_COLORS[3], 0.25),
        hovertemplate=f"%{{y:,.1f}} {unit}<extra>not archived</extra>"))
    if not history["ready_count"].isna().all():
        fig.add_trace(go.Scatter(
            x=times, y=history["ready_count"], name=".ready files", yaxis="y2", mode="lines",
            line={"width": 2, "color": LIMIT_COLOR, "shape": "hv"},
            hovertemplate="%{y:,.0f}<extra>.ready files</extra>"))
    fig = finish_figure(fig, "Archive backlog", unit, x_range)
    relayout(fig, {"yaxis": {"rangemode": "tozero"}, "yaxis2": {
                "title": {"text": ".ready files", "font": {"size": 11}}, "overlaying": "y",
                "side": "right", "rangemode": "tozero", "showgrid": False, "zeroline": False,
                "tickformat": ",d",
                # whole files: never a tick between two counts
                "dtick": 1 if float(history["ready_count"].max() or 0) < 6 else None}})
    return fig
