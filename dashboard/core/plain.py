"""Text from a monitored server stays text: the one way the dashboard shows hostile input.

Database, role, application, table and statement names, statement texts and server error
messages are written by whoever can log in to a monitored server (or, for a bad link, by
whoever wrote the URL). Streamlit renders GitHub-flavoured markdown plus its own extensions
(`:red[…]`, `:material/…:`, `$…$`) in titles, headers, captions, alerts, st.metric's label,
value and delta, every widget label and `help`, the options of radio, pills and
segmented_control, tab and popover labels and st.table cells; plotly renders a subset of
HTML (`<a href>`, `<b>`, `<br>`) in trace names, category labels and hover text. So:

- `md(value)` makes any value safe inside a markdown-rendering call: every ASCII
  punctuation character is backslash-escaped (no link, image, emphasis, directive, icon or
  formula can start), and the three autolink triggers GitHub's markdown finds in plain text
  (`http(s)://`, `www.`, `name@host`) get an invisible word joiner (U+2060), since escapes do
  not stop them. Line breaks become spaces: it is for inline text.
- `chart(figure, …)` is the one way a page draws a plotly figure: names and category
  labels carrying `<` or `>` are HTML-escaped in a copy (plotly turns `&lt;` back into `<`
  as text), so a shared, cached figure is never changed.
- st.text, st.code and st.dataframe show values as they are: use them for long texts.

tests/unit/test_hostile_text.py fails when a page passes a value to a markdown-rendering
call without `md`, or draws a chart without `chart`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

WORD_JOINER = "\u2060"
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")
# After escaping: a scheme's colon, "www." and the "@" of an e-mail address.
_AUTOLINKS = re.compile(r"(?i)https?(?=\\:)|www(?=\\\.)|(?=\\@)")
# Trace attributes plotly draws as text (names, hover, categories, pie labels).
FIGURE_TEXT_ATTRIBUTES = ("name", "text", "hovertext", "x", "y", "labels", "parents", "ids",
                          "customdata")


def md(value: object) -> str:
    """`value` as literal text inside any Streamlit call that renders markdown. A leading
    minus before a digit stays as it is (no markdown starts that way), so st.metric still
    reads "-5 %" as a fall."""
    text = _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))
    if text.startswith("\\-") and text[2:3].isdigit():
        text = text[1:]
    return _AUTOLINKS.sub(lambda m: m.group(0) + WORD_JOINER, text)


def figure_text(value: object) -> str:
    """A value as plotly shows it as text: '&', '<' and '>' as HTML entities."""
    return html.escape(str(value), quote=False)


def _has_markup(value: Any) -> bool:
    if isinstance(value, str):
        return "<" in value or ">" in value
    if isinstance(value, np.ndarray):
        return value.dtype == object and any(_has_markup(v) for v in value.ravel())
    if isinstance(value, list | tuple):
        return any(_has_markup(v) for v in value)
    return False


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return figure_text(value)
    if isinstance(value, np.ndarray):
        if value.dtype != object:
            return value
        return np.vectorize(_escaped, otypes=[object])(value) if value.size else value
    if isinstance(value, list | tuple):
        return type(value)(_escaped(v) for v in value)
    return value


def traces_with_markup(figure: go.Figure) -> Iterable[tuple[int, str]]:
    """(trace index, attribute) of every text attribute that holds '<' or '>'."""
    for index, trace in enumerate(figure.data):
        for attribute in FIGURE_TEXT_ATTRIBUTES:
            if attribute in trace and _has_markup(trace[attribute]):
                yield index, attribute
        if "legendgrouptitle" in trace and _has_markup(trace.legendgrouptitle.text):
            yield index, "legendgrouptitle.text"


def plain_figure(figure: go.Figure) -> go.Figure:
    """`figure`, or a copy with every text attribute holding '<' or '>' escaped. Titles,
    annotations and hover templates are the chart builder's own markup and stay as they are
    (builders never put a server's names in them)."""
    found = list(traces_with_markup(figure))
    if not found:
        return figure
    copy = go.Figure(figure)
    with copy.batch_update():
        for index, attribute in found:
            trace = copy.data[index]
            if attribute == "legendgrouptitle.text":
                trace.legendgrouptitle.text = figure_text(trace.legendgrouptitle.text)
            else:
                trace[attribute] = _escaped(trace[attribute])
    return copy


def chart(figure: go.Figure, **kwargs: Any) -> Any:
    """st.plotly_chart for a figure whose names may come from a monitored server; takes
    st.plotly_chart's keyword arguments and returns what it returns (the selection state
    with on_select)."""
    kwargs.setdefault("config", {"displaylogo": False})
    kwargs.setdefault("theme", None)
    return st.plotly_chart(plain_figure(figure), **kwargs)
