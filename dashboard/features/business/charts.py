"""Business charts (pure): throughput by type, volume in one currency, outcomes and failure
rate, the pending backlog, sign-ups, and the correlation view's stacked panels on one time
axis. Each returns None for a frame without data. Money is drawn as float; the tables keep
the exact Decimal. Names from the monitored database (types, statuses, currencies, statement
labels) pass through `_text`: plotly reads tags such as <a href> in trace names and titles."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.core.figures import (
    CHART_HEIGHT,
    FONT_FAMILY,
    LEGEND_ENTRY_PAD_PX,
    SERIES_COLORS,
    TEMPLATE,
    TIME_TICK_FORMATS,
    X_LABELS_MARGIN_PX,
    Y_LABELS_MARGIN_PX,
    TimeRange,
    bottom_margin,
    finish_figure,
    legend_names,
    relayout,
    text_px,
    translucent,
    utc_naive,
)
from dashboard.features.business.logic import Panel, age_unit

TYPE_COLORS = {"card_payment": "#0969da", "deposit": "#1a7f37", "withdrawal": "#9a6700",
               "transfer_out": "#8250df", "transfer_in": "#bf3989", "fee": "#6e7781"}
STATUS_COLORS = {"completed": "#1a7f37", "failed": "#cf222e", "reversed": "#9a6700",
                 "pending": "#54aeff"}


# Legends in a system font: plotly sizes a legend's clip box when it draws, and the page's
# web font arriving later would make the text outgrow the box (cut mid-word).
LEGEND_FONT = {"size": 11, "family": "Helvetica, Arial, sans-serif"}
# Hung from the plot's top (paper), not the figure's: one reaching above the plot would push
# the plot down under the title.
SIDE_LEGEND = {"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1.0, "yref": "paper",
               "yanchor": "top", "font": LEGEND_FONT, "bgcolor": "rgba(0,0,0,0)"}


SIDE_LEGEND_MIN_PX = 150
# The legend's system font against the page font text_px was fitted to.
SYSTEM_FONT_WIDER = 1.35
# Room for a secondary axis' tick labels on the right.
SECONDARY_AXIS_PX = 24


def _side_legend(fig: go.Figure) -> go.Figure:
    """A legend beside the plot, for charts with more series than fit under it: the chart
    keeps its height and bottom margin, with no legend rows under the axis, and its right
    margin holds the widest entry (so plotly need not widen it and draw again)."""
    text = max((text_px(name) for name in legend_names(fig)), default=0.0)
    right = max(SIDE_LEGEND_MIN_PX, round(LEGEND_ENTRY_PAD_PX + SYSTEM_FONT_WIDER * text + 6))
    relayout(fig, {"legend": SIDE_LEGEND, "height": CHART_HEIGHT,
                   "margin": {"r": right, "b": bottom_margin(0)}})
    return fig


def _text(value: object) -> str:
    """A value from the monitored database as plotly text: shown as is, never as markup."""
    return html.escape(str(value), quote=False)


def _color(name: str, palette: dict[str, str], index: int) -> str:
    return palette.get(name, SERIES_COLORS[index % len(SERIES_COLORS)])


def _ordered(columns: pd.Index, palette: dict[str, str]) -> list[str]:
    known = [c for c in palette if c in columns]
    return known + sorted(str(c) for c in columns if c not in palette)


def throughput_figure(rates: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Transactions created per minute, stacked by type (columns of `rates`)."""
    if rates.empty or not len(rates.columns):
        return None
    fig = go.Figure()
    times = utc_naive(rates.index)
    for i, kind in enumerate(_ordered(rates.columns, TYPE_COLORS)):
        color = _color(kind, TYPE_COLORS, i)
        fig.add_trace(go.Scatter(
            x=times, y=rates[kind], name=_text(kind), mode="lines", stackgroup="types",
            line={"width": 0.8, "color": color}, fillcolor=translucent(color, 0.6),
            hovertemplate="%{y:,.1f}/min<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Transactions per minute, by type", "transactions/min", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return _side_legend(fig)


def status_changes_figure(changes: pd.DataFrame,
                          x_range: TimeRange = None) -> go.Figure | None:
    """Status changes after creation per minute, one line per new status (settlements to
    completed or failed, chargebacks to reversed)."""
    if changes.empty or not len(changes.columns):
        return None
    fig = go.Figure()
    times = utc_naive(changes.index)
    for i, status in enumerate(_ordered(changes.columns, STATUS_COLORS)):
        fig.add_trace(go.Scatter(
            x=times, y=changes[status], name=f"→ {_text(status)}", mode="lines",
            line={"width": 2, "color": _color(status, STATUS_COLORS, i)},
            hovertemplate="%{y:,.2f}/min<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "Status changes per minute (settlements, chargebacks)",
                        "changes/min", x_range)
    relayout(fig, axes={"y": {"rangemode": "tozero"}})
    return _side_legend(fig)


def volume_figure(amounts: pd.DataFrame, currency: str,
                  x_range: TimeRange = None) -> go.Figure | None:
    """Amount created per bucket in one currency, stacked by type (Decimal columns)."""
    if amounts.empty or not len(amounts.columns):
        return None
    fig = go.Figure()
    times = utc_naive(amounts.index)
    for i, kind in enumerate(_ordered(amounts.columns, TYPE_COLORS)):
        fig.add_trace(go.Bar(
            x=times, y=[float(v) for v in amounts[kind]], name=_text(kind),
            marker={"color": _color(kind, TYPE_COLORS, i)},
            hovertemplate=f"%{{y:,.2f}} {_text(currency)}<extra>%{{fullData.name}}</extra>"))
    fig = finish_figure(fig, f"Amount per interval in {_text(currency)}, by type",
                        _text(currency), x_range)
    relayout(fig, {"barmode": "stack", "bargap": 0.1})
    return _side_legend(fig)


def outcomes_figure(outcomes: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Failure rate (%, left axis) with failed and reversed transactions per bucket (bars,
    right axis)."""
    if outcomes.empty:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    times = utc_naive(outcomes.index)
    for status in ("failed", "reversed"):
        fig.add_trace(go.Bar(x=times, y=outcomes[status], name=status,
                             marker={"color": translucent(STATUS_COLORS[status], 0.45)},
                             hovertemplate="%{y:,.0f}<extra>" + status + "</extra>"),
                      secondary_y=True)
    fig.add_trace(go.Scatter(x=times, y=outcomes["failure_rate_percent"], name="failure rate",
                             mode="lines", line={"width": 2, "color": STATUS_COLORS["failed"]},
                             connectgaps=False,
                             hovertemplate="%{y:.1f} %<extra>failure rate</extra>"),
                  secondary_y=False)
    fig = finish_figure(fig, "Failure rate and failures", "failure rate (%)", x_range)
    relayout(fig, {"barmode": "stack", "legend": {"font": LEGEND_FONT},
                   "margin": {"r": SECONDARY_AXIS_PX}})
    fig.update_yaxes(rangemode="tozero", ticksuffix=" %", secondary_y=False)
    fig.update_yaxes(title_text="transactions", rangemode="tozero", showgrid=False,
                     secondary_y=True)
    return fig


def pending_figure(backlog: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Pending transactions (left axis) and the oldest one's age in minutes (right axis)."""
    if backlog.empty:
        return None
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    times = utc_naive(backlog.index)
    fig.add_trace(go.Scatter(x=times, y=backlog["transactions"], name="pending",
                             mode="lines", line={"width": 2, "color": STATUS_COLORS["pending"]},
                             fill="tozeroy", fillcolor=translucent(STATUS_COLORS["pending"], 0.2),
                             hovertemplate="%{y:,.0f}<extra>pending</extra>"),
                  secondary_y=False)
    unit, divisor = age_unit(float(backlog["oldest_age_seconds"].max()))
    fig.add_trace(go.Scatter(x=times, y=backlog["oldest_age_seconds"] / divisor,
                             name=f"oldest ({unit})", mode="lines",
                             line={"width": 2, "color": "#9a6700", "dash": "dot"},
                             hovertemplate=f"%{{y:,.1f}} {unit}<extra>oldest pending</extra>"),
                  secondary_y=True)
    fig = finish_figure(fig, "Pending backlog", "pending transactions", x_range)
    relayout(fig, {"legend": {"font": LEGEND_FONT}, "margin": {"r": SECONDARY_AXIS_PX}})
    fig.update_yaxes(rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text=f"oldest ({unit})", rangemode="tozero", showgrid=False,
                     secondary_y=True)
    return fig


def signups_figure(signups: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """New users and new accounts (by account type) per bucket, side by side."""
    if signups.empty or float(signups.to_numpy().sum()) == 0:
        return None
    fig = go.Figure()
    times = utc_naive(signups.index)
    for i, column in enumerate(signups.columns):
        fig.add_trace(go.Bar(x=times, y=signups[column], name=_text(column),
                             offsetgroup="users" if column == "users" else "accounts",
                             marker={"color": SERIES_COLORS[i % len(SERIES_COLORS)]},
                             hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"))
    fig = finish_figure(fig, "New users and accounts", "created", x_range)
    relayout(fig, {"barmode": "stack"})
    return _side_legend(fig)


CORRELATION_ROW_HEIGHT = 150


def correlation_figure(panels: list[Panel], x_range: TimeRange = None) -> go.Figure | None:
    """The panels stacked on one shared time axis, one trace per series in panel order
    (logic.trace_kinds lists them); hover shows every panel at that time."""
    if not panels:
        return None
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[p.title for p in panels])
    color = 0
    legends = {}
    for row, panel in enumerate(panels, start=1):
        legend = "legend" if row == 1 else f"legend{row}"
        for name, values in panel.series.items():
            fig.add_trace(go.Scatter(
                x=utc_naive(values.index), y=values, name=_text(name), mode="lines+markers",
                marker={"size": 4}, line={"width": 1.8,
                                          "color": SERIES_COLORS[color % len(SERIES_COLORS)]},
                connectgaps=False, legend=legend,
                hovertemplate=f"%{{y:,.2f}} {panel.unit}<extra>{_text(name)}</extra>"),
                row=row, col=1)
            color += 1
        fig.update_yaxes(rangemode="tozero", title_text=panel.unit, row=row, col=1)
        top = fig.get_subplot(row, 1).yaxis.domain[1]
        legends[legend] = {"orientation": "h", "x": 1.0, "xanchor": "right", "y": top,
                           "yanchor": "bottom", "font": LEGEND_FONT,
                           "bgcolor": "rgba(0,0,0,0)"}
    relayout(fig, {
        "template": TEMPLATE,
        "height": max(CHART_HEIGHT, CORRELATION_ROW_HEIGHT * len(panels) + 90),
        "font": {"family": FONT_FAMILY, "size": 12},
        "margin": {"l": Y_LABELS_MARGIN_PX, "r": 40, "t": 40, "b": X_LABELS_MARGIN_PX},
        "hovermode": "x", "showlegend": True, **legends})
    fig.update_annotations(font={"size": 13}, x=0, xanchor="left")
    # No template: automargin is off unless set, and labels wider than the margin are cut.
    relayout(fig, axes={"x": {"tickformatstops": TIME_TICK_FORMATS, "showspikes": True,
                              "spikemode": "across", "spikethickness": 1,
                              "spikecolor": "#8c959f", "automargin": True},
                        "y": {"automargin": True}})
    if x_range is not None:
        relayout(fig, axes={"x": {"range": utc_naive(list(x_range))}})
    fig.update_xaxes(title_text="time (UTC)", row=len(panels), col=1)
    return fig
