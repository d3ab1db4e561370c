"""Chart builders: pure functions from store DataFrames to plotly Figures.

Every builder returns None for a frame without data, so the page can say so in words
instead of drawing an empty grid. All charts share one look (`finish_figure`): the same template,
height, margins, top legend, unified hover and a UTC time axis covering the selected range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go

from dashboard.units import byte_unit

CHART_HEIGHT = 320
TEMPLATE = "plotly_white"
FONT_FAMILY = "Source Sans Pro, Source Sans 3, Helvetica, Arial, sans-serif"
TOP_DATABASES = 8
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


def database_size_figure(sizes: pd.DataFrame, x_range: TimeRange = None,
                         top: int = TOP_DATABASES) -> go.Figure | None:
    """Size over time, one line per database; beyond the `top` largest, the rest are summed.

    Columns: collected_at, datname, size_bytes.
    """
    if sizes.empty:
        return None
    wide = sizes.pivot_table(index="collected_at", columns="datname", values="size_bytes",
                             aggfunc="mean")
    latest = wide.ffill().iloc[-1].sort_values(ascending=False)
    keep = list(latest.index[:top])
    rest = [name for name in latest.index if name not in keep]
    if rest:
        wide[f"other ({len(rest)} databases)"] = wide[rest].sum(axis=1, min_count=1)
        wide = wide[[*keep, f"other ({len(rest)} databases)"]]
    else:
        wide = wide[keep]
    unit, divisor = byte_unit(float(wide.max().max()))
    fig = go.Figure()
    times = utc_naive(wide.index)
    for i, name in enumerate(wide.columns):
        fig.add_trace(go.Scatter(
            x=times, y=wide[name] / divisor, name=str(name), mode="lines",
            line={"width": 2, "color": SERIES_COLORS[i % len(SERIES_COLORS)]},
            connectgaps=False,
            hovertemplate=f"%{{y:,.2f}} {unit}<extra>%{{fullData.name}}</extra>"))
    return finish_figure(fig, "Database size", f"size ({unit})", x_range)


def connections_figure(connections: pd.DataFrame, limits: pd.DataFrame,
                       x_range: TimeRange = None) -> go.Figure | None:
    """Client backends by state, stacked, with max_connections as a dashed line.

    connections columns: collected_at, state, connections;
    limits columns: collected_at, max_connections (others ignored).
    """
    if connections.empty and limits.empty:
        return None
    fig = go.Figure()
    if not connections.empty:
        wide = connections.pivot_table(index="collected_at", columns="state",
                                       values="connections", aggfunc="sum", fill_value=0)
        known = [s for s in STATE_COLORS if s in wide.columns]
        states = known + sorted(s for s in wide.columns if s not in STATE_COLORS)
        times = utc_naive(wide.index)
        for state in states:
            color = STATE_COLORS.get(state, "#afb8c1")
            fig.add_trace(go.Scatter(
                x=times, y=wide[state], name=state, mode="lines", stackgroup="states",
                line={"width": 0.8, "color": color}, fillcolor=_translucent(color, 0.55),
                hovertemplate="%{y:,.0f}<extra>%{fullData.name}</extra>"))
    if not limits.empty:
        ordered = limits.sort_values("collected_at")
        fig.add_trace(go.Scatter(
            x=utc_naive(ordered["collected_at"]), y=ordered["max_connections"],
            name="max_connections", mode="lines",
            line={"width": 1.5, "color": LIMIT_COLOR, "dash": "dash"},
            hovertemplate="%{y:,.0f}<extra>max_connections</extra>"))
    fig = finish_figure(fig, "Connections by state", "connections", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def transactions_figure(stats: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Commits and rollbacks per second over all databases.

    Columns: collected_at, interval_seconds, xact_commit, xact_rollback (per-interval deltas).
    """
    rates = transaction_rates(stats)
    if rates.empty:
        return None
    fig = go.Figure()
    times = utc_naive(rates["collected_at"])
    fig.add_trace(go.Scatter(x=times, y=rates["commits_per_second"], name="commits/s",
                             mode="lines", line={"width": 2, "color": "#0969da"},
                             hovertemplate="%{y:,.1f}/s<extra>commits</extra>"))
    fig.add_trace(go.Scatter(x=times, y=rates["rollbacks_per_second"], name="rollbacks/s",
                             mode="lines", line={"width": 2, "color": "#cf222e"},
                             hovertemplate="%{y:,.2f}/s<extra>rollbacks</extra>"))
    fig = finish_figure(fig, "Transactions per second", "transactions/s", x_range)
    fig.update_yaxes(rangemode="tozero")
    return fig


def cache_hit_figure(stats: pd.DataFrame, x_range: TimeRange = None) -> go.Figure | None:
    """Shared-buffer hit ratio, blks_hit / (blks_hit + blks_read), over all databases.

    Columns: collected_at, blks_hit, blks_read. Intervals without block access are gaps.
    """
    if stats.empty:
        return None
    per_time = stats.groupby("collected_at", as_index=False)[["blks_hit", "blks_read"]].sum()
    total = per_time["blks_hit"] + per_time["blks_read"]
    per_time["hit_percent"] = (100.0 * per_time["blks_hit"] / total.where(total > 0))
    if per_time["hit_percent"].isna().all():
        return None
    fig = go.Figure(go.Scatter(
        x=utc_naive(per_time["collected_at"]), y=per_time["hit_percent"], name="hit ratio",
        mode="lines", line={"width": 2, "color": "#1a7f37"}, connectgaps=False,
        hovertemplate="%{y:.2f} %<extra>cache hit</extra>"))
    fig = finish_figure(fig, "Cache hit ratio", "hit ratio (%)", x_range, legend=False)
    low = float(per_time["hit_percent"].min())
    fig.update_yaxes(range=[max(0.0, min(low - 1.0, 90.0)), 100.5], ticksuffix=" %")
    return fig


def transaction_rates(stats: pd.DataFrame) -> pd.DataFrame:
    """Per sample time: commits/s and rollbacks/s summed over databases.

    Every database's row of one sample covers the same interval, so the rate is the summed
    delta over that interval (the largest one reported, to be safe against rounding).
    """
    columns = ["collected_at", "commits_per_second", "rollbacks_per_second"]
    if stats.empty:
        return pd.DataFrame(columns=columns)
    per_time = stats.groupby("collected_at", as_index=False).agg(
        interval_seconds=("interval_seconds", "max"), xact_commit=("xact_commit", "sum"),
        xact_rollback=("xact_rollback", "sum"))
    per_time = per_time[per_time["interval_seconds"] > 0]
    per_time["commits_per_second"] = per_time["xact_commit"] / per_time["interval_seconds"]
    per_time["rollbacks_per_second"] = per_time["xact_rollback"] / per_time["interval_seconds"]
    return per_time[columns].reset_index(drop=True)


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


def _translucent(hex_color: str, alpha: float) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
