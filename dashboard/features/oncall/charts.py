"""The on-call home's chart (pure): what changed, as markers on a time axis, one row per kind
of event, coloured by kind. Hover texts come from server names: they are escaped."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    SERIES_COLORS,
    TimeRange,
    category_margin,
    finish_figure,
    relayout,
    utc_naive,
)
from dashboard.features.oncall.logic import EVENT_KINDS

KIND_COLORS = dict(zip(EVENT_KINDS, ("#cf222e", "#8250df", "#0969da", "#9a6700", "#6e7781",
                                     "#1a7f37", "#57606a", "#d1242f", "#2da44e"), strict=True))
KIND_SYMBOLS = {"alert fired": "triangle-up", "alert resolved": "triangle-down",
                "collector gap": "line-ew-open", "restart": "x", "failover": "star"}


def timeline_figure(events: pd.DataFrame, x_range: TimeRange) -> go.Figure | None:
    """One marker per event (x: when, y: its kind); None without events."""
    if events.empty:
        return None
    fig = go.Figure()
    kinds = [k for k in EVENT_KINDS if k in set(events["kind"])]
    for kind in kinds:
        own = events[events["kind"] == kind]
        fig.add_trace(go.Scatter(
            x=utc_naive(own["at"]), y=[kind] * len(own), mode="markers", name=kind,
            marker={"size": 12, "color": KIND_COLORS.get(kind, SERIES_COLORS[0]),
                    "symbol": KIND_SYMBOLS.get(kind, "circle"),
                    "line": {"width": 1, "color": "#ffffff"}},
            hovertext=[html.escape(f"{t}: {w}") for t, w in zip(own["target"], own["what"],
                                                                 strict=True)],
            hoverinfo="text+x"))
    if x_range is not None:  # room for a marker at either edge
        pad = (x_range[1] - x_range[0]) * 0.02
        x_range = (x_range[0] - pad, x_range[1] + pad)
    finish_figure(fig, "What changed", "", x_range, legend=False)
    relayout(fig, {"hovermode": "closest", "height": max(180, 70 + 34 * len(kinds)),
                   "margin": {"l": category_margin(kinds)}},
             axes={"y": {"categoryorder": "array", "categoryarray": list(reversed(kinds)),
                         "showgrid": False, "automargin": True}})
    return fig
