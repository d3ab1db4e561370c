"""The average active sessions chart (pure): stacked by wait event type (or any dimension),
gaps where a collection is missing."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    SERIES_COLORS,
    WAIT_COLORS,
    TimeRange,
    add_gaps,
    add_stacked_areas,
    finish_figure,
    relayout,
)
from dashboard.core.timeseries import Gap


def active_sessions_figure(wide: pd.DataFrame, gaps: Sequence[Gap], title: str,
                           x_range: TimeRange = None) -> go.Figure | None:
    """Average active sessions per bucket, one stacked area per column of `wide`."""
    if wide.empty or wide.columns.empty or wide.notna().sum().sum() == 0:
        return None
    colors = [WAIT_COLORS.get(str(name), SERIES_COLORS[i % len(SERIES_COLORS)])
              for i, name in enumerate(wide.columns)]
    fig = add_stacked_areas(go.Figure(), wide, colors, hover_format=",.2f", alpha=0.6)
    fig = finish_figure(fig, title, "average active sessions", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return add_gaps(fig, gaps)
