"""The one look of every chart: template, height, margins, unified hover, a UTC time axis
covering the selected range (`finish_figure`), and shared colours.

The title sits alone at the top; the legend goes under the time axis, anchored to the
bottom of the figure, so however many rows it wraps to it never covers the title or the
axis (the figure grows by `legend_rows` instead). Counts get whole-number ticks
(`whole_number_ticks`); collection gaps are grey bands named on hover (`add_gaps`).
`plotly_text` keeps names from a monitored server plain text in a chart.

Chart builders live in each feature's charts.py: pure functions from store DataFrames to
plotly Figures, returning None for a frame without data so the page can say so in words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.timeseries import Gap

CHART_HEIGHT = 320
LEGEND_ROW_PX = 20
# No plotly template: copying one into every figure costs more than drawing the figure, so
# the few properties of the white look are set directly (finish_figure).
TEMPLATE = "none"
TEXT_COLOR = "#2a3f5f"
GRID_COLOR = "#eaeef2"
LINE_COLOR = "#d0d7de"
# Streamlit's own face first (the page loads it), then the metric-compatible fallbacks.
FONT_FAMILY = '"Source Sans", "Source Sans Pro", Arial, Helvetica, sans-serif'
# A legend row's width on a half-page chart (the plot's width at 1600 px), and a legend
# entry's width in px: its swatch plus its text (11 px Source Sans), per kind of character.
# Fitted to 50 entries as Chromium drew them (within 5 px).
LEGEND_ROW_WIDTH_PX = 470
FULL_WIDTH_LEGEND_ROW_PX = 1048  # a chart across the page
LEGEND_ENTRY_PAD_PX = 44.0
LEGEND_ENTRY_GAP_PX = 5
LEGEND_CHAR_PX = {"narrow": 3.2, "wide": 7.3, "upper": 6.0, "digit": 5.3, "other": 5.4}
NARROW_CHARS = frozenset("iljtfr .,:;()'|-/!I[]")
WIDE_CHARS = frozenset("mwMW_%")
# Margins that already hold what plotly's automargin would grow them to: y tick labels of
# up to five characters (longer ones still widen it), one line of time ticks with the axis
# title, and the legend's rows. Plotly measures those after drawing a chart and, when a
# margin must grow, draws the whole chart again: a third of the browser's time per chart.
Y_LABELS_MARGIN_PX = 52
X_LABELS_MARGIN_PX = 44
LEGEND_PAD_PX = 10
CATEGORY_PAD_PX = 20  # beside a y axis' category labels
GAP_COLOR = "rgba(110, 119, 129, 0.16)"
GAP_AXIS = "y9"
GAP_AXIS_KEY = "yaxis9"  # its name in the layout
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
# Wait event types (CPU = running): the usual ASH colours, CPU green, locks red, I/O blue.
WAIT_COLORS: dict[str, str] = {
    "CPU": "#2da44e", "Lock": "#cf222e", "LWLock": "#bf3989", "IO": "#0969da",
    "IPC": "#8250df", "Client": "#54aeff", "Timeout": "#9a6700", "BufferPin": "#fb8f44",
    "Activity": "#8c959f", "Extension": "#6e7781",
}
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


def legend_entry_px(name: str) -> float:
    """The width plotly gives a legend entry named `name` (an estimate)."""
    return LEGEND_ENTRY_PAD_PX + text_px(name)


def text_px(text: str, size: float = 11) -> float:
    """The width of `text` in the page font at `size` px (an estimate)."""
    return sum(LEGEND_CHAR_PX[_char_kind(c)] for c in text) * size / 11


def _char_kind(char: str) -> str:
    if char in NARROW_CHARS:
        return "narrow"
    if char in WIDE_CHARS:
        return "wide"
    return "upper" if char.isupper() else "digit" if char.isdigit() else "other"


def legend_rows(names: Sequence[str], row_width_px: float = LEGEND_ROW_WIDTH_PX) -> int:
    """How many rows a horizontal legend of `names` takes: one when every entry fits in a
    row; otherwise plotly lines them up in columns as wide as the widest entry."""
    if not names:
        return 0
    widths = [legend_entry_px(name) for name in names]
    if sum(widths) + LEGEND_ENTRY_GAP_PX * (len(widths) - 1) < row_width_px:
        return 1
    columns = max(1, int((row_width_px + LEGEND_ENTRY_GAP_PX) // (max(widths) + 3)))
    return math.ceil(len(widths) / columns)


def legend_names(fig: go.Figure) -> list[str]:
    """The names the figure's legend shows (the gap bands stay out of it)."""
    return [str(t.name) for t in fig.data
            if t.name and t.showlegend is not False and getattr(t, "yaxis", None) != GAP_AXIS]


def category_margin(labels: Sequence[str]) -> int:
    """A left margin that holds the longest category label of a y axis (12 px)."""
    return round(max((text_px(label, 12) for label in labels), default=0.0)) + CATEGORY_PAD_PX


def bottom_margin(rows: int) -> int:
    """Room under the plot for the time axis and `rows` rows of legend."""
    return X_LABELS_MARGIN_PX + (LEGEND_PAD_PX + LEGEND_ROW_PX * rows if rows else 0)


def finish_figure(fig: go.Figure, title: str, y_title: str, x_range: TimeRange,
                  legend: bool = True, height: int = CHART_HEIGHT,
                  full_width: bool = False) -> go.Figure:
    """The shared look; `full_width` for a chart drawn across the page (its legend rows are
    counted on that width)."""
    names = legend_names(fig)
    rows = legend_rows(names, FULL_WIDTH_LEGEND_ROW_PX if full_width else LEGEND_ROW_WIDTH_PX
                       ) if legend else 0
    relayout(fig, {
        "template": TEMPLATE,
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(SERIES_COLORS),
        "hoverlabel": {"bgcolor": "white", "font": {"color": TEXT_COLOR}},
        "height": height + LEGEND_ROW_PX * max(rows - 1, 0),
        "title": {"text": title, "x": 0, "xanchor": "left", "xref": "container",
                  "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 10, "l": 2},
                  "font": {"size": 15}},
        "font": {"family": FONT_FAMILY, "size": 12, "color": TEXT_COLOR},
        "margin": {"l": Y_LABELS_MARGIN_PX, "r": 8, "t": 40 if title else 12,
                   "b": bottom_margin(rows)},
        "hovermode": "x unified",
        "showlegend": legend,
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 0, "yref": "container",
                   "yanchor": "bottom", "font": {"size": 11}, "bgcolor": "rgba(0,0,0,0)"},
    }, axes={
        "x": {"title": {"text": "time (UTC)", "font": {"size": 11}}, "showgrid": True,
              "gridcolor": GRID_COLOR, "linecolor": LINE_COLOR, "showline": True, "ticks": "",
              "hoverformat": "%Y-%m-%d %H:%M UTC", "tickformatstops": TIME_TICK_FORMATS,
              "automargin": True,
              **({"range": list(utc_naive(list(x_range)))} if x_range else {})},
        "y": {"title": {"text": y_title, "font": {"size": 11}}, "showgrid": True,
              "gridcolor": GRID_COLOR, "zeroline": False, "separatethousands": True,
              "automargin": True, "ticks": ""},
    })
    return fig


def relayout(fig: go.Figure, layout: Mapping[str, Any] | None = None,
             axes: Mapping[str, Mapping[str, Any]] | None = None) -> go.Figure:
    """`fig.update_layout(layout)` and `fig.update_xaxes(axes["x"])` (or "y") in one step.

    Plotly's own update methods diff every property path against the figure it is
    attached to: a chart's layout cost 100+ ms that way, more than its reads. Here the
    layout is merged as plain data (nested mappings merge, anything else replaces, None
    removes) and validated once. `axes` applies to every axis of that letter the layout
    has (xaxis, xaxis2 …), as update_xaxes does. Keys are plotly's nested names
    ({"yaxis": {"rangemode": "tozero"}}), not magic underscores.
    """
    merged: dict[str, Any] = fig.layout.to_plotly_json()
    _merge(merged, layout or {})
    for letter, props in (axes or {}).items():
        names = {f"{letter}axis"} | {key for key in merged
                                     if re.fullmatch(rf"{letter}axis\d*", key)}
        for name in sorted(names):
            if name == GAP_AXIS_KEY:  # the gap bands' hidden axis keeps its own range
                continue
            _merge(merged.setdefault(name, {}), props)
    fig.layout = merged
    return fig


def _merge(into: dict[str, Any], update: Mapping[str, Any]) -> None:
    for key, value in update.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value


def add_stacked_areas(fig: go.Figure, wide: pd.DataFrame, colors: Sequence[str],
                      hover_format: str = ",.1f", alpha: float = 0.55) -> go.Figure:
    """One filled area per column of `wide`, stacked in column order, with real gaps where a
    whole bucket is NaN (plotly's own stacking would draw those as zeros). Hover shows each
    series' own value, not the running total."""
    times = utc_naive(wide.index)
    gap = wide.isna().all(axis=1).to_numpy()
    running = pd.Series(0.0, index=wide.index)
    for i, (name, color) in enumerate(zip(wide.columns, colors, strict=True)):
        own = wide[name].fillna(0.0)
        running = running + own
        top = running.mask(gap)
        fig.add_trace(go.Scatter(
            x=times, y=top, name=str(name) or "(empty)", mode="lines",
            line={"width": 0.8, "color": color}, fill="tozeroy" if i == 0 else "tonexty",
            fillcolor=translucent(color, alpha), connectgaps=False,
            customdata=own.mask(gap),
            hovertemplate=f"%{{customdata:{hover_format}}}<extra>%{{fullData.name}}</extra>"))
    return fig


def nice_step(largest: float, ticks: int = 5) -> int:
    """A whole-number tick step (1, 2, 5, 10, 20, 50 …) giving about `ticks` ticks."""
    if not math.isfinite(largest) or largest <= ticks:
        return 1
    raw = largest / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)


def whole_number_ticks(fig: go.Figure, largest: float, axis: str = "yaxis") -> go.Figure:
    """A count axis (`axis`: "yaxis", "yaxis2" …): ticks on whole numbers only, from 0."""
    if not math.isfinite(largest) or largest < 1:
        settings: dict[str, object] = {"range": [0, 1], "dtick": 1}
    else:
        settings = {"dtick": nice_step(largest), "rangemode": "tozero"}
    return relayout(fig, {axis: {"tick0": 0, "tickformat": ",d", **settings}})


def add_gaps(fig: go.Figure, gaps: Sequence[Gap]) -> go.Figure:
    """Grey full-height bands over collection gaps, named on hover; they do not stack with
    bars or enter the legend."""
    if not gaps:
        return fig
    starts = utc_naive([g.start for g in gaps])
    ends = utc_naive([g.end for g in gaps])
    widths = [(end - start).total_seconds() * 1000 for start, end in zip(starts, ends,
                                                                        strict=True)]
    middles = [start + (end - start) / 2 for start, end in zip(starts, ends, strict=True)]
    fig.add_trace(go.Bar(
        x=middles, y=[1] * len(gaps), width=widths, yaxis=GAP_AXIS, name="no collection",
        showlegend=False, marker={"color": GAP_COLOR, "line": {"width": 0}},
        customdata=[g.describe() for g in gaps],
        hovertemplate="%{customdata}<extra></extra>"))
    return relayout(fig, {GAP_AXIS_KEY: {"overlaying": "y", "range": [0, 1], "visible": False,
                                     "fixedrange": True}})


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
