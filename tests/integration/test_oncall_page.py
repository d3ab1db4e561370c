"""The On call page through Streamlit's AppTest against a real store: it opens first, shows
the firing alert the evaluator stored, and an operator acknowledges it, silences it, and
ends the silence, each recorded in the audit trail; a viewer gets no such controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import load_rules
from collectors.alerts.settings import AlertSettings
from collectors.core.redact import Secret
from collectors.core.store import MetricStore
from dashboard.core.auth import NONE_MODE_NAME
from dashboard.core.plain import md
from tests.integration.collector_setup import write_config_file
from tests.pg import copy_into_store

pytestmark = pytest.mark.single_major
APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
TARGET = "kasho-primary"


@pytest.fixture
def firing_store(fresh_store: str) -> str:
    now = datetime.now(UTC)
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        copy_into_store(conn, "connection_limits", (
            "collected_at", "target", "max_connections", "reserved_connections",
            "client_connections"), [(now, TARGET, 100, 3, 95)])
        copy_into_store(conn, "collector_runs", (
            "started_at", "target", "metric_group", "duration_ms", "rows_written"),
            [(now, TARGET, "connection_limits", 2.0, 1)])
    store = MetricStore(Secret(fresh_store))
    store.open()
    try:
        rules = load_rules({}, {})
        rules["connection_use"] = type(rules["connection_use"])(**{
            **rules["connection_use"].__dict__, "for_seconds": 0})
        Evaluator(AlertSettings(), store, {"connection_limits": 15}, rules=rules).evaluate(TARGET)
    finally:
        store.close()
    return fresh_store


@pytest.fixture
def page_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def make(store_dsn: str, role: str) -> AppTest:
        config = write_config_file(tmp_path / "kasho-ops.toml", store_dsn,
                                   {TARGET: "host=127.0.0.1 dbname=kasho"},
                                   extra=f'\n[auth]\nmode = "none"\nnone_role = "{role}"\n')
        monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
        return AppTest.from_file(APP, default_timeout=60).run()

    yield make


def actions(store_dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute("SELECT action, outcome, actor, actor_role, comment, matchers "
                            "FROM kasho_ops.alert_actions ORDER BY id").fetchall()


def test_an_operator_acknowledges_silences_and_expires_from_the_page(
        firing_store: str, page_for: Any) -> None:
    at = page_for(firing_store, "operator")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["On call"]
    assert at.error[0].value == "1 alert(s) firing, 1 critical."
    firing = at.dataframe[0].value
    assert list(firing["alert"]) == ["Connections near the limit"]
    assert list(firing["value"]) == ["97.9 %"] and list(firing["handled"]) == ["—"]

    at.text_input(key="oncall_alert_comment").input("on it, OPS-7")
    at.button(key="oncall_ack").click().run()
    assert not at.exception, at.exception
    assert actions(firing_store) == [("acknowledge", "done", NONE_MODE_NAME, "operator",
                                      "on it, OPS-7", None)]
    assert list(at.dataframe[0].value["handled"]) == [f"acknowledged by {NONE_MODE_NAME}"]

    at.text_area[0].input("rule=connection_use\ntarget=kasho-primary")
    at.text_input[1].input("pool resize tonight")
    next(b for b in at.button if b.label == "Create the silence").click().run()
    assert not at.exception, at.exception
    silence = actions(firing_store)[1]
    assert silence[:5] == ("silence", "done", NONE_MODE_NAME, "operator", "pool resize tonight")
    assert silence[5] == [{"label": "rule", "op": "=", "value": "connection_use"},
                          {"label": "target", "op": "=", "value": TARGET}]
    assert "silenced (#" in at.dataframe[0].value["handled"].iloc[0]

    at.button(key="oncall_expire_button").click().run()
    assert not at.exception, at.exception
    assert [a[0] for a in actions(firing_store)] == ["acknowledge", "silence",
                                                     "expire_silence"]
    with psycopg.connect(firing_store) as conn:
        kinds = conn.execute("SELECT action FROM kasho_ops.audit_log WHERE kind = 'alert' "
                             "ORDER BY at").fetchall()
    assert kinds == [("acknowledge",), ("silence",), ("expire_silence",)]


def test_a_bad_matcher_is_one_line_and_records_nothing(firing_store: str,
                                                       page_for: Any) -> None:
    at = page_for(firing_store, "operator")
    at.text_area[0].input("database=kasho")
    at.text_input[1].input("why not")
    next(b for b in at.button if b.label == "Create the silence").click().run()
    # Shown through plain.md: markdown punctuation escaped, read as the plain sentence.
    assert [e.value for e in at.error][-1].startswith(md("silence matcher label 'database'"))
    assert actions(firing_store) == []


def test_a_viewer_sees_the_alert_but_no_controls(firing_store: str, page_for: Any) -> None:
    at = page_for(firing_store, "viewer")
    assert not at.exception, at.exception
    assert at.error[0].value == "1 alert(s) firing, 1 critical."
    labels = [e.label for e in at.expander]
    assert "Acknowledge or silence an alert" not in labels and "New silence" not in labels
