"""Starting a restore drill from the Backups page (issues 10 and 11): only admins see the
button; the start function checks the role itself, so an operator calling it directly is
refused and audited; an admin's start is audited and its drill is recorded with the actor;
a second start while a drill of the target runs (here, or from `kasho-ops restore-drill`)
is refused and audited.

The target names a stanza the (empty) pgBackRest repository does not hold, so the drill
fails fast with its recorded reason: a real, recorded drill without a repository to restore."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import streamlit as st
from psycopg.rows import dict_row
from streamlit.testing.v1 import AppTest

from collectors.actions.restore_drill import DrillStartRequest, running_drill, start_drill
from collectors.backups.drill import hold_drill_lock
from collectors.core.access import Actor
from collectors.core.config import load_config
from collectors.core.redact import Secret
from demo.cluster import LocalCluster
from tests.integration.collector_setup import monitor_dsn

pytestmark = pytest.mark.single_major  # the page and the drill read the store
ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
TARGET = "primary"
START_BUTTON = "Start a restore drill…"
ADMIN = Actor("ada@kasho.example", "admin")
OPERATOR = Actor("otto@kasho.example", "operator")


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    st.cache_data.clear()


def write_config(path: Path, store_dsn: str, target_dsn: str, role: str) -> Path:
    repository = path.parent / "empty-repository"
    path.write_text(f"""
[store]
dsn = "{store_dsn}"

[auth]
none_role = "{role}"

[dashboard]
actions_enabled = true

[backups]
drill_pgbackrest_command = "pgbackrest --repo1-path={repository} --lock-path={path.parent}"
drill_scratch_dir = "{path.parent / 'drills'}"

[[targets]]
name = "{TARGET}"
dsn = "{target_dsn}"
pgbackrest_stanza = "nosuch"
""")
    return path


def open_page(config: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("features/backups/page.py")
    at.query_params.update({"range": "1h", "target": TARGET})
    at.run()
    assert not at.exception, at.exception
    return at


def rows(store_dsn: str, query: str) -> list[dict[str, Any]]:
    with psycopg.connect(store_dsn, row_factory=dict_row) as conn:
        return conn.execute(query).fetchall()


def starts(store_dsn: str) -> list[tuple[Any, ...]]:
    return [(r["actor"], r["actor_role"], r["target"], r["outcome"]) for r in rows(
        store_dsn, "SELECT * FROM kasho_ops.restore_drill_starts ORDER BY id")]


def wait_for_drill(store_dsn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = rows(store_dsn, "SELECT * FROM kasho_ops.restore_drills ORDER BY id")
        if found and running_drill(TARGET) is None:
            return found[-1]
        time.sleep(0.2)
    raise AssertionError("the started drill was not recorded within 120 s")


def test_viewers_and_operators_cannot_start_a_drill(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    target_dsn = monitor_dsn(pg_cluster, "postgres")
    for role in ("viewer", "operator"):
        config = write_config(tmp_path / f"{role}.toml", fresh_store, target_dsn, role)
        at = open_page(config, monkeypatch)
        assert START_BUTTON not in [b.label for b in at.button], role
        assert "Restore drills" in [h.value for h in at.subheader]

    # The hidden button is not the check: the start function refuses an operator itself.
    config = load_config(tmp_path / "operator.toml")
    result = start_drill(config, DrillStartRequest(TARGET, OPERATOR))
    assert result.outcome == "denied" and result.audited
    assert result.message == ("restore drill needs the admin role; otto@kasho.example is an "
                              "operator")
    assert starts(fresh_store) == [("otto@kasho.example", "operator", TARGET, "denied")]
    assert rows(fresh_store, "SELECT * FROM kasho_ops.restore_drills") == []
    assert running_drill(TARGET) is None


def test_an_admin_starts_one_drill_at_a_time_and_every_attempt_is_audited(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config_path = write_config(tmp_path / "admin.toml", fresh_store,
                               monitor_dsn(pg_cluster, "postgres"), "admin")
    config = load_config(config_path)

    # A drill of the target is running elsewhere (another dashboard, the command, the
    # schedule: they all hold the same lock): the start is refused and audited.
    elsewhere = hold_drill_lock(Secret(fresh_store), TARGET)
    assert elsewhere is not None
    try:
        refused = start_drill(config, DrillStartRequest(TARGET, ADMIN))
        assert refused.outcome == "refused"
        assert "a restore drill of primary is already running" in refused.message
        command = subprocess.run(
            [sys.executable, "-m", "collectors.cli", "restore-drill", "--config",
             str(config_path), "--target", TARGET], cwd=ROOT, capture_output=True, text=True,
            timeout=120, check=False)
        assert command.returncode != 0
        assert "a restore drill of primary is already running" in command.stderr
    finally:
        elsewhere.close()
    assert starts(fresh_store) == [("ada@kasho.example", "admin", TARGET, "refused")]

    # The admin sees the button and a confirmation that says what a drill does.
    at = open_page(config_path, monkeypatch)
    next(b for b in at.button if b.label == START_BUTTON).click().run()
    assert not at.exception, at.exception
    dialog_text = "\n".join(str(e.value) for kind in ("markdown", "warning", "text")
                            for e in at.get(kind))
    assert "scratch directory" in dialog_text and "takes minutes" in dialog_text
    at.text_input(key="backups_drill_to").input("yesterday-ish").run()
    assert "is not a time" in "\n".join(str(e.value) for e in at.error)
    at.text_input(key="backups_drill_to").input("").run()
    next(b for b in at.button if b.label == "Start the drill").click().run()
    assert not at.exception, at.exception
    assert "Restore drill started." in [str(e.value) for e in at.success]

    # Started from the page: audited with the signed-in actor (mode none's name), then the
    # drill fails fast (no such stanza) and is recorded with the same actor.
    started = starts(fresh_store)
    assert len(started) == 2 and started[1][1:] == ("admin", TARGET, "started")
    page_actor = started[1][0]
    drill = wait_for_drill(fresh_store)
    assert (drill["trigger"], drill["actor"], drill["actor_role"], drill["outcome"]) == (
        "dashboard", page_actor, "admin", "failed")
    assert "no good backup" in drill["error"]

    # Once it is recorded, the next start is allowed again; the page lists the drill.
    again = start_drill(config, DrillStartRequest(TARGET, ADMIN))
    assert again.ok, again.message
    wait_for_drill(fresh_store)
    assert [s[3] for s in starts(fresh_store)] == ["refused", "started", "started"]
    st.cache_data.clear()
    at = open_page(config_path, monkeypatch)
    table = next(e.value for e in at.dataframe if "outcome" in e.value.columns)
    assert list(table["trigger"]) == ["dashboard · ada@kasho.example (admin)",
                                      f"dashboard · {page_actor} (admin)"]
    trail = rows(fresh_store, "SELECT actor, actor_role, action, outcome FROM "
                              "kasho_ops.audit_log WHERE kind = 'restore_drill' ORDER BY at")
    assert [(r["action"], r["outcome"]) for r in trail] == [
        ("start_drill", "refused"), ("start_drill", "started"), ("restore_drill", "failed"),
        ("start_drill", "started"), ("restore_drill", "failed")]
    assert {r["actor_role"] for r in trail} == {"admin"}
