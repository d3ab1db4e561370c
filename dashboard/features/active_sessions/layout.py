"""Active sessions as several pages show them: the average-active-sessions chart of Activity
and Locks (shaped once per page window; the Overview shapes it with its other charts), and
the statements-active-the-most table of Overview and Activity (layout only: logic builds
both)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard.core.context import PageContext
from dashboard.core.loading import once_per_window
from dashboard.core.panels import hidden_caption
from dashboard.core.plain import md
from dashboard.core.tables import dataframe
from dashboard.core.timeseries import Collection
from dashboard.features.active_sessions import charts, logic

# The smallest widths that fit half the page from a 1366-px window (Overview) and two fifths
# of it from 1440 px (Activity) without a horizontal scroll; wider windows stretch them.
STATEMENT_COLUMNS: dict[str, Any] = {
    "statement": st.column_config.TextColumn(width=190),
    "avg active": st.column_config.NumberColumn(
        width=70, format="%.2f", help="Average active sessions running it over the range"),
    "waits": st.column_config.TextColumn(width=140, help="Where its active time went"),
    "queryid": st.column_config.NumberColumn(format="%d", width=170),
    "database": st.column_config.TextColumn(width=110),
    "role": st.column_config.TextColumn(width=110),
}


def active_sessions_chart(ctx: PageContext, frame: pd.DataFrame, collection: Collection,
                          title: str) -> tuple[go.Figure | None, bool]:
    """The chart of average active sessions by wait event type over the page's range, and
    whether every active session in it was ours and hidden (the chart is then empty)."""
    def shaped() -> tuple[go.Figure | None, bool]:
        active = logic.average_active_sessions(frame, collection, ctx.show_own)
        return (charts.active_sessions_figure(active.wide, collection.chart_gaps(), title,
                                              (ctx.start, ctx.end)),
                active.hidden_session_seconds > 0)

    return once_per_window(ctx, f"active_sessions.chart {title}", shaped)


def statements_panel(table: pd.DataFrame, hidden: int, empty_reason: str,
                     columns: tuple[str, ...] = ("statement", "avg active", "waits"),
                     statement_width: int = 190) -> None:
    st.markdown("**Statements active the most**")
    if table.empty:
        st.info(md(empty_reason), icon=":material/bar_chart:")
    else:
        config = {c: STATEMENT_COLUMNS[c] for c in columns}
        config["statement"] = st.column_config.TextColumn(width=statement_width)
        dataframe(table[list(columns)], hide_index=True, width="stretch",
                  column_config=config, placeholder="—")
    hidden_caption(hidden, "statement")
