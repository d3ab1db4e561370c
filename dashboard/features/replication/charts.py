"""Replication page charts (pure): lag per standby in bytes and time, WAL retained per slot,
and a standby's own replay delay."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    LIMIT_COLOR,
    SERIES_COLORS,
    TimeRange,
    finish_figure,
    relayout,
    translucent,
    utc_naive,
)
from dashboard.core.units import age_unit, byte_unit


def _per_series(frame: pd.DataFrame, series: str, value: str, title: str, y_unit: str,
                divisor: float, x_range: TimeRange, dashed: set[str] | None = None
                ) -> go.Figure:
    fig = go.Figure()
    for i, (name, part) in enumerate(frame.groupby(series, sort=True)):
        ordered = part.sort_values("collected_at")
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        fig.add_trace(go.Scatter(
            x=utc_naive(ordered["collected_at"]), y=ordered[value] / divisor, name=str(name),
            mode="lines", line={"width": 2, "color": color,
                                "dash": "dot" if dashed and name in dashed else "solid"},
            hovertemplate=f"%{{y:,.2f}} {y_unit}<extra>%{{fullData.name}}</extra>"))
    fig = finish_figure(fig, title, y_unit, x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig


def lag_bytes_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Replay lag in bytes per standby."""
    if history.empty or history["replay_lag_bytes"].isna().all():
        return None
    unit, divisor = byte_unit(float(history["replay_lag_bytes"].max()))
    return _per_series(history, "standby", "replay_lag_bytes", "Replay lag per standby",
                       unit, divisor, x_range)


def lag_seconds_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Replay lag in time per standby (what the standby reported it needed to replay)."""
    if history.empty or history["replay_lag_seconds"].isna().all():
        return None
    unit, divisor = age_unit(float(history["replay_lag_seconds"].max()))
    return _per_series(history.dropna(subset=["replay_lag_seconds"]), "standby",
                       "replay_lag_seconds", "Replay lag per standby (time)", unit, divisor,
                       x_range)


def slot_retention_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """WAL each slot keeps on disk; slots inactive through the range dotted."""
    if history.empty or history["retained_wal_bytes"].isna().all():
        return None
    unit, divisor = byte_unit(float(history["retained_wal_bytes"].max()))
    always_inactive = {str(name) for name, part in history.groupby("slot_name")
                       if not part["active"].astype(bool).any()}
    return _per_series(history, "slot_name", "retained_wal_bytes",
                       "WAL retained per replication slot (dotted: inactive)", unit, divisor,
                       x_range, dashed=always_inactive)


def standby_delay_figure(history: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """This standby's replay delay (filled) and WAL received but not replayed (line)."""
    if history.empty or history["replay_delay_seconds"].isna().all():
        return None
    ordered = history.sort_values("collected_at")
    times = utc_naive(ordered["collected_at"])
    unit, divisor = age_unit(float(ordered["replay_delay_seconds"].max()))
    byte_name, byte_divisor = byte_unit(float(ordered["receive_replay_lag_bytes"].max() or 0))
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=times, y=ordered["replay_delay_seconds"] / divisor, name="replay delay", mode="lines",
        line={"width": 1.5, "color": LIMIT_COLOR}, fill="tozeroy",
        fillcolor=translucent(LIMIT_COLOR, 0.2),
        hovertemplate=f"%{{y:,.1f}} {unit}<extra>replay delay</extra>"))
    fig.add_trace(go.Scatter(
        x=times, y=ordered["receive_replay_lag_bytes"] / byte_divisor,
        name="received, not replayed", mode="lines", yaxis="y2",
        line={"width": 2, "color": SERIES_COLORS[0]},
        hovertemplate=f"%{{y:,.1f}} {byte_name}<extra>not replayed</extra>"))
    fig = finish_figure(fig, "Replay on this standby", f"delay ({unit})", x_range)
    relayout(fig, {"yaxis": {"rangemode": "tozero"}, "yaxis2": {
                "title": {"text": byte_name, "font": {"size": 11}}, "overlaying": "y",
                "side": "right", "rangemode": "tozero", "showgrid": False, "zeroline": False}})
    return fig
