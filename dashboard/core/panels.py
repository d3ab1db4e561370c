"""Layout pieces every page places the same way: a bordered chart, or in its place the one
sentence saying why there is nothing to draw; and the note of what the page hid."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from dashboard.core.own import hidden_note
from dashboard.core.plain import chart, md

CHART_CONFIG = {"displaylogo": False}


def chart_panel(figure: go.Figure | None, empty_reason: str, key: str | None = None,
                border: bool = True) -> None:
    """The chart in a bordered box, or `empty_reason` where it would be."""
    with st.container(border=border):
        if figure is None:
            st.info(md(empty_reason), icon=":material/bar_chart:")
        else:
            chart(figure, config=CHART_CONFIG, theme=None, key=key)


def hidden_caption(count: int, noun: str, plural: str | None = None) -> None:
    """'3 of Kasho Ops' own sessions hidden …' under what they were hidden from."""
    note = hidden_note(count, noun, plural)
    if note:
        st.caption(md(note))
