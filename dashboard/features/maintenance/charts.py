"""Maintenance page charts (pure): a wraparound gauge per database and XID age over time,
both against autovacuum_freeze_max_age, vacuum_failsafe_age and the stop limit."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.core.figures import (
    FONT_FAMILY,
    LIMIT_COLOR,
    SERIES_COLORS,
    TimeRange,
    finish_figure,
    plotly_text,
    relayout,
    utc_naive,
)
from dashboard.features.maintenance.logic import XID_STOP_AGE, WraparoundText

FREEZE_COLOR = "#9a6700"
FAILSAFE_COLOR = "#bc4c00"
SEVERITY_COLORS = {"critical": "#cf222e", "warning": "#bf8700", "ok": "#1a7f37",
                   "unknown": "#6e7781"}


def wraparound_gauge(text: WraparoundText, freeze_max_age: int,
                     failsafe_age: int | None) -> go.Figure:
    """XID age (millions) on a gauge ending at the stop limit, its bar coloured by severity;
    bands: green up to autovacuum_freeze_max_age (forced freezing starts), yellow to
    vacuum_failsafe_age, red beyond; ticks at those limits."""
    stop = XID_STOP_AGE / 1e6
    freeze = freeze_max_age / 1e6
    failsafe = failsafe_age / 1e6 if failsafe_age else None
    steps = [{"range": [0, freeze], "color": "#dafbe1"},
             {"range": [freeze, failsafe or stop], "color": "#fff8c5"}]
    ticks = [0, freeze, stop]
    if failsafe:
        steps.append({"range": [failsafe, stop], "color": "#ffebe9"})
        ticks.insert(2, failsafe)
    fig = go.Figure(go.Indicator(
        mode="gauge+number", value=text.xid_age / 1e6,
        number={"suffix": " M XIDs", "valueformat": ",.1f", "font": {"size": 22}},
        title={"text": plotly_text(text.datname), "font": {"size": 15}},
        gauge={"axis": {"range": [0, stop], "tickvals": ticks,
                        "ticktext": [f"{t:,.0f}" for t in ticks], "tickfont": {"size": 10}},
               "bar": {"color": SEVERITY_COLORS.get(text.severity, "#6e7781"),
                       "thickness": 0.35},
               "steps": steps,
               "threshold": {"line": {"color": LIMIT_COLOR, "width": 3},
                             "thickness": 0.9, "value": stop}}))
    relayout(fig, {"height": 210, "margin": {"l": 30, "r": 30, "t": 50, "b": 10},
                   "font": {"family": FONT_FAMILY}, "template": "plotly_white"})
    return fig


def xid_age_figure(history: pd.DataFrame, freeze_max_age: int | None,
                   x_range: TimeRange = None) -> go.Figure | None:
    """age(datfrozenxid) per database over time (columns collected_at, datname, xid_age),
    with autovacuum_freeze_max_age dashed: a saw-tooth is autovacuum freezing in time; a
    line climbing past the dash is a database it cannot freeze."""
    if history.empty:
        return None
    wide = history.pivot_table(index="collected_at", columns="datname", values="xid_age",
                               aggfunc="max").sort_index()
    order = list(wide.max().sort_values(ascending=False).index)
    fig = go.Figure()
    x = utc_naive(wide.index)
    for i, name in enumerate(order):
        fig.add_trace(go.Scatter(
            x=x, y=wide[name] / 1e6, name=plotly_text(name), mode="lines",
            line={"width": 2, "color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            hovertemplate="%{y:,.2f} M<extra>%{fullData.name}</extra>"))
    if freeze_max_age:
        fig.add_hline(y=freeze_max_age / 1e6, line={"color": FREEZE_COLOR, "dash": "dash",
                                                    "width": 1.5},
                      annotation_text="autovacuum_freeze_max_age",
                      annotation_position="top left", annotation_font_size=10)
    fig = finish_figure(fig, "Transaction ID age per database", "age (million XIDs)", x_range,
                        full_width=True)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return fig
