"""The dashboard app rendered by streamlit's AppTest against a real metrics store.

Rows are inserted into a fresh store with exact values, so the headline metrics, charts,
freshness statuses, URL handling and error lines can be asserted exactly.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.core.redact import Secret
from dashboard.core import store
from dashboard.core.own import OwnActivity
from dashboard.features.overview import data
from demo.cluster import LocalCluster
from tests.integration.collector_setup import write_config_file
from tests.pg import copy_into_store, free_port
from tests.shown import shown

pytestmark = pytest.mark.single_major  # the dashboard reads the store

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
SEEDED, EMPTY = "kasho-primary", "kasho-replica"
TARGET_DSN = "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor"
MIB = 1024**2
GIB = 1024**3
NO_DATA = f"No data yet for target {EMPTY} — is `kasho-ops collect` running?"
MY_GROUPS = ("database_size", "connections", "connection_limits", "database_stats")


def insert(store_dsn: str, table: str, columns: tuple[str, ...],
           rows: list[tuple[Any, ...]]) -> None:
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, table, columns, rows)


def insert_stats(store_dsn: str, rows: list[tuple[datetime, str, float, int, int, int, int]]
                 ) -> None:
    """rows: (collected_at, target, interval_seconds, xact_commit, xact_rollback, blks_hit,
    blks_read) for database kasho; the other counters are 0."""
    insert(store_dsn, "database_stats", (
        "collected_at", "target", "interval_seconds", "datname", "backends", "xact_commit",
        "xact_rollback", "blks_read", "blks_hit", "tup_returned", "tup_fetched",
        "tup_inserted", "tup_updated", "tup_deleted", "conflicts", "temp_files", "temp_bytes",
        "deadlocks", "blk_read_time_ms", "blk_write_time_ms"),
        [(t, target, interval, "kasho", 5, commits, rollbacks, read, hit,
          0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0)
         for t, target, interval, commits, rollbacks, hit, read in rows])


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    st.cache_data.clear()


@pytest.fixture
def seeded_store(fresh_store: str) -> str:
    """Known rows for SEEDED, 10 to 50 minutes old; nothing for EMPTY."""
    now = datetime.now(UTC)
    latest, earlier = now - timedelta(minutes=10), now - timedelta(minutes=20)
    insert(fresh_store, "database_size", ("collected_at", "target", "datname", "size_bytes"), [
        (now - timedelta(minutes=50), SEEDED, "kasho", GIB),
        (now - timedelta(minutes=50), SEEDED, "postgres", 8 * MIB),
        (latest, SEEDED, "kasho", GIB + 100 * MIB),
        (latest, SEEDED, "postgres", 8 * MIB),
    ])
    insert(fresh_store, "connection_limits", (
        "collected_at", "target", "max_connections", "reserved_connections",
        "client_connections"), [(earlier, SEEDED, 100, 3, 12), (latest, SEEDED, 100, 3, 25)])
    columns = ("collected_at", "target", "datname", "usename", "application_name",
               "client_addr", "state", "connections", "waiting_on_lock",
               "longest_in_state_seconds")
    insert(fresh_store, "connections", columns, [
        (latest, SEEDED, "kasho", "app", "kasho-api", "127.0.2.5", "active", 5, 0, 1.0),
        (latest, SEEDED, "kasho", "app", "kasho-api", "127.0.2.5", "idle", 18, 0, 30.0),
        (latest, SEEDED, "kasho", "app", "worker", "127.0.2.6", "idle in transaction", 2, 0,
         400.0),
        # Kasho Ops' own session: the target's monitoring role.
        (latest, SEEDED, "kasho", "kasho_ops_monitor", "kasho-ops", "127.0.0.1", "idle", 1,
         0, 2.0),
    ])
    insert_stats(fresh_store, [(earlier, SEEDED, 60.0, 600, 0, 9000, 1000),
                               (latest, SEEDED, 60.0, 1140, 60, 9900, 100)])
    insert(fresh_store, "collector_runs", (
        "started_at", "target", "metric_group", "duration_ms", "rows_written", "error"), [
        (now - timedelta(minutes=50), SEEDED, "database_size", 40.0, 2, None),
        (earlier, SEEDED, "connection_limits", 2.0, 1, None),
        (earlier, SEEDED, "database_stats", 5.0, 1, None),
        (latest, SEEDED, "database_size", 40.0, 2, None),  # 10 min < 3 x 5 min: ok
        (latest, SEEDED, "connections", 3.0, 3, None),  # 10 min > 3 x 15 s: stale
        (latest, SEEDED, "connection_limits", 2.0, 1, None),  # interval set to 600 s: ok
        (latest, SEEDED, "database_stats", 5.0, 1, None),
        (now - timedelta(minutes=1), SEEDED, "database_stats", 5000.0, 0,
         "canceling statement due to statement timeout"),  # latest run failed: failing
    ])
    return fresh_store


OVERVIEW = "features/overview/page.py"


@pytest.fixture
def app_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """app_for(store_dsn, **query_params) -> an AppTest of dashboard/app.py on the Overview
    (the root opens the On call page), already run."""

    def make(store_dsn: str, page: str | None = OVERVIEW, **query_params: str) -> AppTest:
        config = write_config_file(tmp_path / "kasho-ops.toml", store_dsn,
                                   {SEEDED: TARGET_DSN, EMPTY: TARGET_DSN},
                                   extra="\n[intervals]\nconnection_limits = 600\n")
        monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(query_params)
        at.run()
        if page is not None:
            at.switch_page(page).run()
        return at

    yield make


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"]
            for chart in at.get("plotly_chart")]


def values(array: Any) -> list[float]:
    """A plotly JSON array: a plain list, or plotly's typed-array form {dtype, bdata}."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def freshness_statuses(at: AppTest) -> dict[str, str]:
    table = at.dataframe[0].value
    return {row["Metric group"]: row["Status"] for row in table.to_dict("records")
            if row["Metric group"] in MY_GROUPS}


def test_overview_shows_charts_metrics_and_freshness_from_the_store(
        seeded_store: str, app_for: Any) -> None:
    at = app_for(seeded_store)
    assert not at.exception
    assert not at.error
    # The history is 50 minutes long: the page opens on the last hour, which holds it all.
    assert at.query_params == {"target": SEEDED, "range": "1h"}
    assert [t.value for t in at.title] == ["Overview"]
    assert chart_titles(at) == ["Connections by state", "Transactions per second",
                                "Cache hit ratio", "Database growth in the last hour"]
    first_size = (datetime.now(UTC) - timedelta(minutes=50)).strftime("%H:%M")
    # Latest values, labelled so; changes over the range, named; one usable-connections rule.
    assert [(shown(m.label), shown(m.value), shown(m.delta)) for m in at.metric] == [
        ("Database size, latest", "1.1 GB", f"+100 MB since {first_size} UTC"),
        ("Connections, latest", "25 / 97", "26 % of usable"),
        ("Transactions/s, latest", "20.0/s", "avg 15.0/s in last 1 h"),
        ("Cache hit ratio, latest", "99.00 %", "low 90.00 % in last 1 h"),
        ("Active sessions, latest", "—", ""),
    ]
    # No active_sessions samples: the chart's place says why.
    assert ("No active sessions yet: the active_sessions group has never been collected for "
            "this target. Is `kasho-ops collect` running?") in [shown(i.value) for i in at.info]
    assert any(shown(c.value).startswith("1 Kasho Ops session hidden") for c in at.caption)
    assert freshness_statuses(at) == {"database_size": "ok", "connections": "stale",
                                      "connection_limits": "ok", "database_stats": "failing"}
    failing = next(row for row in at.dataframe[0].value.to_dict("records")
                   if row["Metric group"] == "database_stats")
    assert failing["Last error"] == "canceling statement due to statement timeout"
    badges = next(m.value for m in at.markdown if m.value.startswith("Data freshness:"))
    assert ":red-badge[connections stale]" in badges
    assert ":red-badge[database\\_stats failing]" in badges
    connections = json.loads(at.get("plotly_chart")[0].proto.spec)
    by_name = {t["name"]: t for t in connections["data"]}
    assert list(by_name)[:4] == ["active", "idle", "idle in transaction",
                                 "usable (max_connections − reserved)"]
    # The latest sample: the application's 18 idle sessions, ours left out; after it the
    # collection stopped, which is a gap, not a zero.
    idle = values(by_name["idle"]["customdata"])
    assert [v for v in idle if v == v][-1] == 18.0
    assert idle[-1] != idle[-1]  # NaN
    assert 97.0 in values(by_name["usable (max_connections − reserved)"]["y"])


def test_the_switch_shows_kasho_ops_own_activity_and_stays_in_the_url(
        seeded_store: str, app_for: Any) -> None:
    at = app_for(seeded_store, own="1")
    assert not at.exception
    assert at.sidebar.toggle(key="sidebar_own").value is True
    assert at.query_params["own"] == "1"
    assert not any(shown(c.value).startswith("1 Kasho Ops session hidden") for c in at.caption)
    connections = json.loads(at.get("plotly_chart")[0].proto.spec)
    idle = next(t for t in connections["data"] if t["name"] == "idle")
    assert [v for v in values(idle["customdata"]) if v == v][-1] == 19.0  # 18 + ours
    at.sidebar.toggle(key="sidebar_own").set_value(False).run()
    assert "own" not in at.query_params


def test_target_and_range_follow_the_url_and_the_sidebar(seeded_store: str,
                                                          app_for: Any) -> None:
    at = app_for(seeded_store, target=EMPTY, range="1h")
    assert at.sidebar.selectbox(key="sidebar_target").value == EMPTY
    assert at.sidebar.selectbox(key="sidebar_range").value == "1h"
    assert not at.sidebar.selectbox(key="sidebar_range").disabled  # a history page
    assert [shown(i.value) for i in at.info] == [NO_DATA]
    assert not at.get("plotly_chart")
    assert not at.metric
    assert set(freshness_statuses(at).values()) == {"never"}

    at.query_params["target"] = SEEDED  # a pasted link / back button in the same session
    at.run()
    assert at.sidebar.selectbox(key="sidebar_target").value == SEEDED
    assert len(at.get("plotly_chart")) == 4

    at.sidebar.selectbox(key="sidebar_target").select(EMPTY).run()
    assert at.query_params == {"target": EMPTY, "range": "1h"}
    assert [shown(i.value) for i in at.info] == [NO_DATA]

    at.sidebar.selectbox(key="sidebar_range").select("15m").run()
    assert at.query_params == {"target": EMPTY, "range": "15m"}
    assert "Last 15 minutes" in at.caption[0].value


def test_unknown_url_values_fall_back_with_a_warning(seeded_store: str, app_for: Any) -> None:
    at = app_for(seeded_store, page=None, target="nope", range="2w")
    assert at.query_params == {"target": SEEDED, "range": "1h"}
    assert [shown(w.value) for w in at.warning] == [
        f"No target named “nope” in the config; showing {SEEDED}.",
        "Unknown time range “2w”; use one of 15m, 1h, 6h, 24h, 7d, 30d. Showing last hour.",
    ]
    at.switch_page(OVERVIEW).run()
    assert len(at.get("plotly_chart")) == 4


def test_store_down_is_one_redacted_error_line(app_for: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    down = (f"host=127.0.0.1 port={free_port()} dbname=kasho_ops user=dashboard "
            "password=hunter2-secret connect_timeout=3")
    # Each read waits out the pool's wait for a session before its one direct attempt says
    # why: a shorter wait gives the same line sooner.
    monkeypatch.setattr(store, "CONNECT_TIMEOUT_SECONDS", 1)
    at = app_for(down)
    assert not at.exception
    assert len(at.error) == 1
    message = shown(at.error[0].value)
    assert message.startswith("Cannot read the metrics store (host=127.0.0.1 port=")
    assert "password=***" in message
    assert "Connection refused" in message or "connection refused" in message.lower()
    assert "hunter2-secret" not in message
    assert "\n" not in message
    assert not at.get("plotly_chart")


def test_store_without_schema_says_how_to_create_it(pg_cluster: LocalCluster,
                                                    fresh_database: str, app_for: Any) -> None:
    at = app_for(pg_cluster.dsn(fresh_database))
    assert not at.exception
    assert [shown(e.value) for e in at.error] == [
        f"The metrics store ({pg_cluster.dsn(fresh_database)}) has no kasho_ops tables; run "
        "`kasho-ops migrate up --set monitoring` against it."]


def test_store_sessions_are_read_only_named_and_bounded(store_dsn: str) -> None:
    with store.connect(Secret(store_dsn)) as conn:
        settings = conn.execute(
            "SELECT current_setting('application_name'), "
            "current_setting('default_transaction_read_only'), "
            "current_setting('statement_timeout'), current_setting('TimeZone')").fetchone()
        assert settings == ("kasho-ops-dashboard", "on", "10s", "UTC")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM kasho_ops.collector_runs")


def test_reads_average_samples_into_buckets(fresh_store: str) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    first, second = hour + timedelta(seconds=10), hour + timedelta(seconds=40)
    columns = ("collected_at", "target", "datname", "usename", "application_name",
               "client_addr", "state", "connections", "waiting_on_lock",
               "longest_in_state_seconds")
    insert(fresh_store, "connections", columns, [
        (first, SEEDED, "kasho", "app", "api", "127.0.2.5", "active", 4, 0, 0.0),
        (first, SEEDED, "kasho", "app", "api", "127.0.2.5", "idle", 6, 0, 0.0),
        (first, SEEDED, "postgres", "dba", "psql", "local", "active", 2, 0, 0.0),
        (second, SEEDED, "kasho", "app", "api", "127.0.2.5", "active", 2, 0, 0.0),
        (second, "other-target", "kasho", "app", "api", "127.0.2.5", "active", 99, 0, 0.0),
    ])
    insert_stats(fresh_store, [(first, SEEDED, 30.0, 300, 3, 90, 10),
                               (second, SEEDED, 30.0, 600, 0, 100, 0)])
    window = (hour - timedelta(hours=1), hour + timedelta(hours=1))
    own = OwnActivity(frozenset({"dba"}))
    frame = data.connections_by_state(Secret(fresh_store), SEEDED, *window, 3600, own)
    # Two samples in the hour: active (4 + 2) / 2 and the dba's (ours here) 2 / 2 apart,
    # idle 6 / 2 (absent from the second).
    assert [(r.collected_at, r.state, r.own, r.connections) for r in frame.itertuples()] == [
        (hour, "active", False, 3.0), (hour, "active", True, 1.0), (hour, "idle", False, 3.0)]
    stats = data.database_stats(Secret(fresh_store), SEEDED, *window, 3600, own, True)
    assert stats.to_dict("records") == [{
        "collected_at": hour, "interval_seconds": 60.0, "xact_commit": 900.0,
        "xact_rollback": 3.0, "blks_hit": 190.0, "blks_read": 10.0}]
    outside = data.connections_by_state(Secret(fresh_store), SEEDED, window[1],
                                        window[1] + timedelta(hours=1), 3600, own)
    assert outside.empty
