"""How a page shows a table: `dataframe`, st.dataframe that can pin the row's name.

A table wider than its panel scrolls sideways. With its first column pinned, each row stays
named while the far columns are read (Streamlit already pins a shown index). Pinning is
asked for per table (`pin_first=True`), for tables that cannot fit: a pinned column costs
the browser time on every draw (on Queries, ten sessions at once went from 3.6 to 7.6 s with
its tables pinned, tests/bench/bench_render.py). Pages call `dataframe`, never st.dataframe
(tests/unit/test_tables.py checks both), and the layout rule reports a table that scrolls
without its first column pinned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler


def pinned_first_column(data: Any, column_config: Mapping[str, Any] | None,
                        column_order: Iterable[str] | None, hide_index: bool | None
                        ) -> dict[str, Any]:
    """`column_config` with the first shown column pinned: the first of `column_order`, else
    of the frame's columns. Unchanged when the index is shown (it is pinned), when the
    column is hidden or explicitly unpinned, or when there is no column."""
    config = dict(column_config or {})
    frame = data.data if isinstance(data, Styler) else data
    if not hide_index or not isinstance(frame, pd.DataFrame):
        return config
    order = list(column_order) if column_order is not None else list(frame.columns)
    if not order:
        return config
    first = order[0]
    current = config.get(first, {})
    if current is None:  # hidden
        return config
    if isinstance(current, str):
        current = {"label": current}
    if current.get("pinned") is False:
        return config
    config[first] = {**current, "pinned": True}
    return config


def dataframe(data: Any, *, column_config: Mapping[str, Any] | None = None,
              column_order: Iterable[str] | None = None, hide_index: bool | None = None,
              pin_first: bool = False, **options: Any) -> Any:
    """st.dataframe; with `pin_first`, its first shown column pinned (see
    `pinned_first_column`)."""
    order = list(column_order) if column_order is not None else None
    config = (pinned_first_column(data, column_config, order, hide_index) if pin_first
              else column_config)
    return st.dataframe(data, column_config=config, column_order=order,
                        hide_index=hide_index, **options)
