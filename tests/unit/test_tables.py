"""Tables scroll with each row's name in view: `dataframe` pins the first shown column, and
no page calls st.dataframe itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st

from dashboard.core.tables import pinned_first_column

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
FRAME = pd.DataFrame({"target": ["kasho-primary"], "state": ["up"], "detail": ["x"]})


def test_the_first_column_is_pinned_when_the_index_is_hidden() -> None:
    assert pinned_first_column(FRAME, None, None, True) == {"target": {"pinned": True}}


def test_a_column_config_of_the_first_column_keeps_its_settings() -> None:
    config = {"target": st.column_config.TextColumn(width=120), "detail": "why"}
    pinned = pinned_first_column(FRAME, config, None, True)
    assert pinned["target"]["pinned"] is True and pinned["target"]["width"] == 120
    assert pinned["detail"] == "why" and config["target"].get("pinned") is None  # not changed


def test_a_label_only_config_becomes_a_label_and_a_pin() -> None:
    assert pinned_first_column(FRAME, {"target": "Target"}, None, True) == {
        "target": {"label": "Target", "pinned": True}}


def test_the_first_column_of_the_order_is_pinned() -> None:
    assert pinned_first_column(FRAME, None, ["state", "target"], True) == {
        "state": {"pinned": True}}


def test_styled_frames_pin_their_data_s_first_column() -> None:
    assert pinned_first_column(FRAME.style, None, None, True) == {"target": {"pinned": True}}


@pytest.mark.parametrize(("config", "hide_index"), [
    ({}, None),  # the index is shown, and Streamlit pins it
    ({}, False),
    ({"target": None}, True),  # hidden
    ({"target": st.column_config.TextColumn(pinned=False)}, True),  # explicitly not pinned
])
def test_nothing_is_pinned_where_the_index_or_the_page_already_decided(
        config: dict[str, object], hide_index: bool | None) -> None:
    assert pinned_first_column(FRAME, config, None, hide_index) == config


def test_no_frame_no_pin() -> None:
    assert pinned_first_column(pd.DataFrame(), None, None, True) == {}
    assert pinned_first_column([1, 2], None, None, True) == {}


def test_pages_show_tables_through_dataframe() -> None:
    calls = []
    for path in sorted(DASHBOARD.rglob("*.py")):
        if path == DASHBOARD / "core" / "tables.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "dataframe"):
                calls.append(f"{path.relative_to(DASHBOARD)}:{node.lineno}")
    assert calls == [], "show tables with dashboard.core.tables.dataframe, which pins " \
                        f"their first column: {calls}"
