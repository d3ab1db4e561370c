"""The one look of every chart: template, height, margins, top legend, unified hover and a
UTC time axis covering the selected range (`finish_figure`), plus shared colours and
`plotly_text`, which keeps names from a monitored server plain text in a chart.

Chart builders live in each feature's charts.py: pure functions from store DataFrames to
plotly Figures, returning None for a frame without data so the page can say so in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import pandas as pd
import plotly.graph_objects as go

CHART_HEIGHT = 320
TEMPLATE = "plotly_white"
FONT_FAMILY = "Source Sans Pro, Source Sans 3, Helvetica, Arial, sans-serif"
# Conventional colours for backend states: what is working green, what waits or holds
# a transaction open warm, problems red.
STATE_COLORS: dict[str, str] = {
    "active": "#2da44e",
    "idle": "#54aeff",
    "idle in transaction": "#fb8f44",
    "idle in transaction (aborted)": "#cf222e",
    "fastpath function call": "#8250df",
    "starting": "#8c959f",
    "disabled": "#57606a",
}
SERIES_COLORS = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#0a3069", "#cf222e",
                 "#6e7781", "#afb8c1")
LIMIT_COLOR = "#cf222e"
# Time ticks without plotly's second line of dates: hours within a day, days beyond.
TIME_TICK_FORMATS = [
    {"dtickrange": [None, 60_000], "value": "%H:%M:%S"},
    # Plotly treats both ends as inclusive: a one-day tick must fall in the date format.
    {"dtickrange": [60_000, 86_399_999], "value": "%H:%M"},
    {"dtickrange": [86_400_000, None], "value": "%b %d"},
]

TimeRange = tuple[datetime, datetime] | None
# The colours st.metric accepts for a tile's delta.
DeltaColor = Literal["normal", "inverse", "off", "red", "orange", "yellow", "green", "blue",
                     "violet", "gray", "grey", "primary"]


def finish_figure(fig: go.Figure, title: str, y_title: str, x_range: TimeRange,
            legend: bool = True) -> go.Figure:
    fig.update_layout(
        template=TEMPLATE,
        height=CHART_HEIGHT,
        title={"text": title, "x": 0, "xanchor": "left", "y": 0.97, "yanchor": "top",
               "font": {"size": 15}},
        font={"family": FONT_FAMILY, "size": 12},
        margin={"l": 8, "r": 8, "t": 64, "b": 8},
        hovermode="x unified",
        showlegend=legend,
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
                "font": {"size": 11}, "bgcolor": "rgba(0,0,0,0)"},
    )
    fig.update_xaxes(title={"text": "time (UTC)", "font": {"size": 11}}, showgrid=True,
                     gridcolor="#eaeef2", linecolor="#d0d7de", hoverformat="%Y-%m-%d %H:%M UTC",
                     tickformatstops=TIME_TICK_FORMATS,
                     range=utc_naive(list(x_range)) if x_range else None)
    fig.update_yaxes(title={"text": y_title, "font": {"size": 11}}, showgrid=True,
                     gridcolor="#eaeef2", zeroline=False, separatethousands=True)
    return fig


def utc_naive(values: Sequence[datetime] | pd.Index | pd.Series) -> list[datetime] | pd.Index:
    """Timestamps as naive UTC: plotly.js would otherwise drop the offset inconsistently."""
    index = pd.DatetimeIndex(pd.to_datetime(values, utc=True)).tz_localize(None)
    return index


def plotly_text(text: object) -> str:
    """A name from a monitored server as plotly shows it: plotly reads a subset of HTML in
    trace names, labels and ticks (<a href>, <b>, <br>), so '&', '<' and '>' are escaped
    and the text stays text."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def translucent(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
