"""Queries page charts (pure): the load shape and one statement's detail, in the shared look
of dashboard/core/figures.py. Each returns None when there is nothing to draw."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.core.figures import (
    SERIES_COLORS,
    X_LABELS_MARGIN_PX,
    Y_LABELS_MARGIN_PX,
    TimeRange,
    bottom_margin,
    finish_figure,
    relayout,
    utc_naive,
)

OTHER_COLOR = "#d0d7de"
DETAIL_HEIGHT = 620


def load_shape_figure(shape: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Statement time per bucket, stacked by statement with the rest as "other statements".

    Columns: bucket, label, key, total_exec_time_ms (as from logic.load_shape). Each
    bar carries its statement's position in `customdata`, so a click can open that statement.
    """
    if shape.empty or float(shape["total_exec_time_ms"].sum()) <= 0:
        return None
    fig = go.Figure()
    labels = list(dict.fromkeys(shape["label"]))
    for i, label in enumerate(labels):
        part = shape[shape["label"] == label].sort_values("bucket")
        other = part["key"].iloc[0] is None
        fig.add_trace(go.Bar(
            x=utc_naive(part["bucket"]), y=part["total_exec_time_ms"] / 1000, name=label,
            marker={"color": OTHER_COLOR if other else SERIES_COLORS[i % len(SERIES_COLORS)],
                    "line": {"width": 0}},
            customdata=[[-1 if other else i]] * len(part),
            hovertemplate="%{y:,.2f} s<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Statement time per interval, by statement", "execution time (s)",
                  x_range)
    # Statement labels are long: the legend goes under the chart, one statement per row,
    # anchored to the figure's bottom (never over the axis), and the figure grows with it.
    relayout(fig, {"barmode": "stack", "bargap": 0.05, "hovermode": "closest",
                   "height": 320 + 20 * len(labels), "clickmode": "event+select",
                   "margin": {"b": bottom_margin(len(labels))},
                   "legend": {"orientation": "v", "x": 0, "xanchor": "left", "y": 0,
                              "yref": "container", "yanchor": "bottom",
                              "traceorder": "normal"}},
             axes={"y": {"rangemode": "tozero"}})
    return fig


def statement_detail_figure(figures: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Calls/s, mean execution time with a ±1 stddev band, rows per call and cache hit ratio.

    Columns: bucket and logic.interval_figures' outputs. Buckets without calls
    are gaps, not zeros, except for calls/s.
    """
    if figures.empty or float(figures["calls"].sum()) <= 0:
        return None
    times = utc_naive(figures["bucket"])
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("calls per second", "execution time per call (ms)",
                                        "rows per call", "shared-buffer hit ratio (%)"))
    fig.add_trace(go.Bar(x=times, y=figures["calls_per_second"], name="calls/s",
                         marker={"color": SERIES_COLORS[0], "line": {"width": 0}},
                         hovertemplate="%{y:,.2f}/s<extra>calls</extra>"), row=1, col=1)
    mean = figures["mean_exec_time_ms"]
    upper = mean + figures["stddev_exec_time_ms"]
    lower = (mean - figures["stddev_exec_time_ms"]).clip(lower=0)
    fig.add_trace(go.Scatter(x=times, y=upper, mode="lines", line={"width": 0},
                             showlegend=False, hoverinfo="skip", connectgaps=False),
                  row=2, col=1)
    fig.add_trace(go.Scatter(x=times, y=lower, mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor="rgba(191, 57, 137, 0.15)",
                             name="±1 stddev", hoverinfo="skip", connectgaps=False),
                  row=2, col=1)
    fig.add_trace(go.Scatter(x=times, y=mean, mode="lines+markers", name="mean",
                             marker={"size": 3}, line={"width": 2, "color": SERIES_COLORS[1]},
                             customdata=figures["stddev_exec_time_ms"],
                             hovertemplate="%{y:,.3f} ms ± %{customdata:,.3f}<extra>mean</extra>"),
                  row=2, col=1)
    fig.add_trace(go.Scatter(x=times, y=figures["rows_per_call"], mode="lines+markers",
                             name="rows/call", marker={"size": 3},
                             line={"width": 2, "color": SERIES_COLORS[2]},
                             hovertemplate="%{y:,.1f}<extra>rows per call</extra>"),
                  row=3, col=1)
    fig.add_trace(go.Scatter(x=times, y=figures["hit_ratio"] * 100, mode="lines+markers",
                             name="hit ratio", marker={"size": 3},
                             line={"width": 2, "color": SERIES_COLORS[3]},
                             hovertemplate="%{y:.2f}%<extra>hit ratio</extra>"),
                  row=4, col=1)
    fig = finish_figure(fig, "", "", x_range, legend=False)
    relayout(fig, {"height": DETAIL_HEIGHT, "margin": {"l": Y_LABELS_MARGIN_PX, "r": 8, "t": 28,
                                                      "b": X_LABELS_MARGIN_PX}})
    fig.update_annotations(font={"size": 12}, x=0, xanchor="left")
    relayout(fig, axes={"x": {"title": None}})
    fig.update_xaxes(title={"text": "time (UTC)", "font": {"size": 11}}, row=4, col=1)
    relayout(fig, axes={"y": {"title": None, "rangemode": "tozero"}})
    fig.update_yaxes(range=[max(0.0, float(figures["hit_ratio"].min() * 100) - 1) if
                            figures["hit_ratio"].notna().any() else 0, 100.5], row=4, col=1)
    return fig
