"""The statements-active-the-most table as the Overview and Activity pages place it (layout
only: logic.statements_table builds it)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.core.panels import hidden_caption
from dashboard.core.plain import md

# Sized to fit half a page (and, narrower, two fifths) without a horizontal scroll.
STATEMENT_COLUMNS: dict[str, Any] = {
    "statement": st.column_config.TextColumn(width=250),
    "avg active": st.column_config.NumberColumn(
        width=75, format="%.2f", help="Average active sessions running it over the range"),
    "waits": st.column_config.TextColumn(width=180, help="Where its active time went"),
    "queryid": st.column_config.NumberColumn(format="%d", width=170),
    "database": st.column_config.TextColumn(width=110),
    "role": st.column_config.TextColumn(width=110),
}


def statements_panel(table: pd.DataFrame, hidden: int, empty_reason: str,
                     columns: tuple[str, ...] = ("statement", "avg active", "waits"),
                     statement_width: int = 250) -> None:
    st.markdown("**Statements active the most**")
    if table.empty:
        st.info(md(empty_reason), icon=":material/bar_chart:")
    else:
        config = {c: STATEMENT_COLUMNS[c] for c in columns}
        config["statement"] = st.column_config.TextColumn(width=statement_width)
        st.dataframe(table[list(columns)], hide_index=True, width="stretch",
                     column_config=config, placeholder="—")
    hidden_caption(hidden, "statement")
