"""The Connections, Activity and Locks pages in AppTest, on data the collectors stored from
real situations (idle transactions, a three-deep lock chain, a nearly full server) and on
the live server itself; cancel/terminate through the confirmation step."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from demo.cluster import LocalCluster
from tests.integration.activity_setup import lock_chain, own_cluster
from tests.integration.collector_setup import make_config, monitor_dsn, open_collector
from tests.pg import HeldSession, free_port, held_sessions
from tests.shown import shown

pytestmark = pytest.mark.single_major  # the pages read the store

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
GROUPS = ["connections", "connection_limits", "session_ages", "wait_events", "lock_waits",
          "prepared_transactions", "active_sessions"]


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    st.cache_data.clear()


def write_config(path: Path, store_dsn: str, target_dsn: str, *, actions_dsn: str | None = None,
                 actions_enabled: bool = False) -> Path:
    lines = ["[store]", f'dsn = "{store_dsn}"', "", "[dashboard]",
             f"actions_enabled = {'true' if actions_enabled else 'false'}", "",
             "[auth]", 'none_role = "admin"', "",
             "[[targets]]", 'name = "local"', f'dsn = "{target_dsn}"']
    if actions_dsn:
        lines.append(f'actions_dsn = "{actions_dsn}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def open_page(config: Path, monkeypatch: pytest.MonkeyPatch, script: str,
              **params: str) -> AppTest:
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(script)
    at.query_params.update({"range": "1h", **params})
    at.run()
    assert not at.exception, at.exception
    return at


def collect(store_dsn: str, target_dsn: str, groups: list[str] = GROUPS) -> None:
    collector = open_collector(make_config(store_dsn, {"local": target_dsn}), groups)
    try:
        for group in collector.groups:
            record = collector.collect(group, collector.config.targets[0])
            assert record.error is None, record.error
    finally:
        collector.close()
        collector.store.close()


def frame(at: AppTest, columns_start: list[str]):
    """The first dataframe whose columns start with `columns_start`."""
    for element in at.get("dataframe"):
        value = element.value
        if list(value.columns[:len(columns_start)]) == columns_start:
            return value
    raise AssertionError(f"no table with columns {columns_start}")


@pytest.fixture
def chain_collected(pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
                    tmp_path: Path) -> Iterator[tuple[Path, tuple[int, int, int], list[int]]]:
    """Two 'worker' sessions idle in a transaction and the A <- B <- C chain, collected."""
    target = monitor_dsn(pg_cluster, fresh_database)
    with held_sessions(pg_cluster.dsn(fresh_database), 2) as idle, \
            lock_chain(pg_cluster, fresh_database) as chain:
        for session in idle:
            session.execute("SET application_name = 'worker'")
            session.execute("BEGIN")
            session.execute("SELECT 1")
        time.sleep(1.1)
        collect(fresh_store, target)
        yield (write_config(tmp_path / "k.toml", fresh_store, target),
               (chain.a.pid, chain.b.pid, chain.c.pid), [s.pid for s in idle])


def test_connections_page_shows_use_breakdown_and_idle_transactions(
        chain_collected: tuple[Path, tuple[int, int, int], list[int]], fresh_store: str,
        fresh_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    config, _, _ = chain_collected
    with psycopg.connect(fresh_store) as conn:
        stored = conn.execute("SELECT max_connections, reserved_connections, "
                              "client_connections FROM kasho_ops.connection_limits").fetchone()
    max_connections, reserved, used = stored
    at = open_page(config, monkeypatch, "features/connections/page.py")
    assert at.title[0].value == "Connections"
    assert not at.error and not at.warning  # 200 slots: far from exhaustion
    metrics = {shown(m.label): (shown(m.value), shown(m.delta)) for m in at.metric}
    usable = max_connections - reserved
    assert metrics["In use, latest"] == (f"{used} / {usable}",
                                         f"{100 * used / usable:.0f} % of usable")
    assert metrics["Idle in transaction, latest"][0] == "3"  # two workers, the chain's holder
    assert metrics["Waiting on a lock, latest"][0] == "2"
    idle = frame(at, ["database", "role", "application"])
    # The chain's holder went idle before the workers began: it is idle longest.
    assert idle[["database", "application", "aborted", "sessions"]].values.tolist() == [
        [fresh_database, "chain-a", False, 1], [fresh_database, "worker", False, 2]]
    assert (idle["longest idle (s)"] >= 1.0).all()
    assert len(at.get("plotly_chart")) == 3  # utilization, breakdown, ages
    by_state = frame(at, ["state", "connections"])
    assert by_state.set_index("state").loc["idle in transaction", "connections"] == 3
    at.segmented_control(key="connections_breakdown").set_value("application").run()
    by_app = frame(at, ["application_name", "connections"]).set_index("application_name")
    assert (by_app.loc["worker", "connections"], by_app.loc["chain-c", "waiting"]) == (2, 1)
    # The collector's own session is ours: left out of the breakdown, and counted.
    assert "kasho-ops" not in by_app.index
    assert any(re.match(r"\d+ Kasho Ops sessions? hidden", shown(c.value)) for c in at.caption)
    assert at.query_params["by"] in (["application"], "application")


def test_locks_page_reconstructs_the_chain_from_the_store(
        chain_collected: tuple[Path, tuple[int, int, int], list[int]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    config, (a, b, c), _ = chain_collected
    at = open_page(config, monkeypatch, "features/locks/page.py")
    assert at.title[0].value == "Locks"
    assert not at.error
    metrics = {shown(m.label): shown(m.value) for m in at.metric}
    assert metrics["Most sessions waiting"] == "2"
    waits = frame(at, ["time (UTC)", "pid"])
    assert waits[["pid", "waits for", "blocked by", "depth"]].values.tolist() == [
        [b, "ShareLock on accounts", str(a), 1], [c, "AccessShareLock on ledger", str(b), 2]]
    assert all(label.startswith(f"{a}: idle in transaction · chain-a · xact ")
               for label in waits["root blocker"])
    # Lock waits and average active sessions (the two waiters, sampled once: Lock).
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    assert [c["layout"]["title"]["text"] for c in charts] == [
        "Lock waits", "Average active sessions by wait event type"]
    assert "Lock" in [t.get("name") for t in charts[1]["data"]]


def test_connections_page_warns_when_the_pool_is_nearly_exhausted(
        tmp_path: Path, store_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with own_cluster(max_connections="12", superuser_reserved_connections="2") as cluster:
        # 8 application sessions + the collector's one monitoring session = 9 of 10 slots.
        with held_sessions(cluster.dsn(), 8):
            collect(store_dsn, monitor_dsn(cluster), ["connection_limits", "connections"])
        config = write_config(tmp_path / "k.toml", store_dsn, monitor_dsn(cluster))
        at = open_page(config, monkeypatch, "features/connections/page.py")
    assert [shown(e.value) for e in at.error] == [
        "Connection pool nearly exhausted: 9 of 10 usable connections in use (90 %); 1 left "
        "before new sessions are refused (max_connections 12 minus 2 reserved). Look for "
        "idle-in-transaction sessions and the application holding the most connections."]


def test_activity_page_shows_live_sessions_and_the_blocking_tree(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    config = write_config(tmp_path / "k.toml", store_dsn,
                          monitor_dsn(pg_cluster, fresh_database))
    talker = HeldSession(pg_cluster.dsn(fresh_database), "crm")
    try:
        talker.execute("BEGIN")
        talker.execute("SELECT 'alice@example.com' AS email")
        with lock_chain(pg_cluster, fresh_database) as chain:
            at = open_page(config, monkeypatch, "features/activity/page.py")
            a, b, c = chain.a.pid, chain.b.pid, chain.c.pid
    finally:
        talker.close()
    assert at.title[0].value == "Activity now"
    metrics = {shown(m.label): shown(m.value) for m in at.metric}
    assert (metrics["Idle in transaction, now"], metrics["Waiting on a lock, now"]) == ("2", "2")
    # One usable-connections rule, live: max_connections 200 minus 3 reserved.
    assert metrics["Connections, now"].endswith(" / 197")
    tree = frame(at, ["session", "state"])
    assert tree["session"].tolist() == [str(a), f"└─ {b}", f"\u00a0\u00a0\u00a0└─ {c}"]
    assert tree["blocks"].tolist() == ["1", "1", ""]
    sessions = frame(at, ["pid", "database"]).set_index("pid")
    assert sessions.loc[talker.pid, "query"] == "SELECT '?' AS email"
    assert sessions.loc[c, "blocked by"] == str(b)
    assert sessions.loc[b, "wait"] == "Lock: relation"
    assert any("Actions are off" in c.value for c in at.caption)
    assert not at.button  # no action buttons while actions are disabled
    # The live tables ignore the range; the average active sessions chart follows it.
    time_range = next(box for box in at.sidebar.selectbox if box.label == "Time range")
    assert not time_range.disabled
    assert any("live tables, charts from the store" in c.value for c in at.sidebar.caption)
    assert "Average active sessions in the last hour" in [shown(h.value) for h in at.subheader]


def sessions_table(at: AppTest):
    return next(d for d in at.get("dataframe") if (d.key or "").startswith("activity_sessions"))


def select_session(at: AppTest, pid: int) -> None:
    """Select the session's row in the sessions table, as a click on it does."""
    table = sessions_table(at)
    row = table.value["pid"].tolist().index(pid)
    at.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception


def test_terminate_through_the_confirmation_step_is_done_and_audited(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        for role, grants in (("kasho_app", None),
                             ("kasho_ops_actions", "pg_signal_backend, pg_read_all_stats")):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f"CREATE ROLE {role} LOGIN")
                if grants:
                    conn.execute(f"GRANT {grants} TO {role}")
    config = write_config(tmp_path / "k.toml", fresh_store, monitor_dsn(pg_cluster),
                          actions_dsn=pg_cluster.dsn("postgres", "kasho_ops_actions"),
                          actions_enabled=True)
    victim = HeldSession(pg_cluster.dsn("postgres", "kasho_app"), "billing-worker")
    try:
        at = open_page(config, monkeypatch, "features/activity/page.py")
        assert not at.get("number_input")  # the session is picked from the table, not typed
        at.toggle(key="activity_show_idle").set_value(True).run()
        select_session(at, victim.pid)
        assert f"Selected: pid {victim.pid} · kasho_app · billing-worker" in [
            t.value for t in at.text]
        next(b for b in at.button if b.label == "Terminate backend…").click().run()
        assert f"**Terminate pid {victim.pid}** on **local**?" in [m.value for m in at.markdown]
        next(b for b in at.button if b.label == "Yes, terminate").click().run()
        assert not at.exception, at.exception
        assert f"pid {victim.pid} on local: backend terminated" in [
            shown(s.value) for s in at.success]
        with pytest.raises(psycopg.OperationalError):
            victim.conn.execute("SELECT 1")
    finally:
        victim.conn.close()
    with psycopg.connect(fresh_store) as conn:
        assert conn.execute("SELECT actor, pid, action, outcome, usename, application_name "
                            "FROM kasho_ops.dba_actions").fetchall() == [
            ("anonymous (auth mode none, loopback)", victim.pid, "terminate", "signalled",
             "kasho_app", "billing-worker")]


def test_pages_without_data_or_server_say_so_in_one_line(
        fresh_store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=y password=hunter2"
    config = write_config(tmp_path / "k.toml", fresh_store, dead)
    at = open_page(config, monkeypatch, "features/connections/page.py")
    assert [shown(i.value) for i in at.info] == [
        "No connection samples yet: the connection_limits group has never been collected for "
        "this target. Is `kasho-ops collect` running?"]
    at = open_page(config, monkeypatch, "features/locks/page.py")
    assert [shown(i.value) for i in at.info] == [
        "No lock or wait samples for local yet — is `kasho-ops collect` running?"]
    at = open_page(config, monkeypatch, "features/activity/page.py")
    (error,) = [shown(e.value) for e in at.error]
    assert error.startswith("target local: cannot connect:") and "hunter2" not in error
    assert not at.get("dataframe")
