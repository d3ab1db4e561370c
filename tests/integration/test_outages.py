"""Outages over a window of time, on real clusters: a target that accepts TCP and never
answers (backoff holds, the log has one line when it starts and one when it ends), a metrics
store that goes away (collection keeps its schedule, nothing is lost), a store frozen with
SIGSTOP, and a store that refuses rows (the run records the failure, collection goes on)."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.core.metric_groups import MetricGroup, load_catalog
from collectors.core.scheduler import Collector
from collectors.core.store import MetricStore
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.faults import GatedProxy, frozen
from tests.integration.collector_setup import make_config, monitor_dsn, write_config_file
from tests.pg import free_port

pytestmark = pytest.mark.single_major  # outages of the store and of a target


def store_rows(dsn: str, query: str, params: object = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def store_cluster() -> Iterator[LocalCluster]:
    """A metrics store on a cluster of its own, to stop and freeze."""
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-store-"))
    cluster = LocalCluster(base, free_port())
    cluster.start()
    MigrationRunner(cluster.dsn(), "monitoring").up()
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


def start_collector(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "collectors.cli", "collect", "--config", str(config),
         "--group", "connections", "--group", "connection_limits"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_collector(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    return stderr


def log_lines(stderr: str, level: str | None = None) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [line for line in lines if level is None or f" {level} " in line]


def test_a_target_that_never_answers_backs_off_and_logs_once_per_outage(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path) -> None:
    proxy = GatedProxy(pg_cluster.port)
    proxy.open = False  # accepts TCP, never answers
    config = write_config_file(
        tmp_path / "k.toml", fresh_store,
        {"alive": monitor_dsn(pg_cluster),
         "flaky": f"host=127.0.0.1 port={proxy.port} dbname=postgres user=kasho_ops_monitor"},
        extra="[collector]\nconnect_timeout_seconds = 2\nbackoff_base_seconds = 1.0\n"
              "backoff_cap_seconds = 4.0\n[intervals]\nconnections = 1\n"
              "connection_limits = 1\n")
    process = start_collector(config)

    def flaky_runs(condition: str) -> int:
        return int(store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.collector_runs "
                              f"WHERE target = 'flaky' AND {condition}")[0][0])

    try:
        wait_until(lambda: flaky_runs("error LIKE 'skipped:%'") >= 12, 90,
                   "skipped runs of the unreachable target")
        outage_started = datetime.now(UTC)
        time.sleep(8)  # a window of outage to count over
        window_end = datetime.now(UTC)
        proxy.open = True
        wait_until(lambda: flaky_runs("error IS NULL") >= 2, 90, "the target to come back")
    finally:
        stderr = stop_collector(process)
        proxy.close()
    window = {"start": outage_started, "end": window_end}
    [(scheduled, attempts)] = store_rows(
        fresh_store, "SELECT count(*), count(*) FILTER (WHERE error NOT LIKE 'skipped:%%') "
        "FROM kasho_ops.collector_runs WHERE target = 'flaky' AND started_at >= %(start)s "
        "AND started_at < %(end)s", window)
    print(f"\n8 s of outage: {scheduled} runs due, {attempts} reached for the server; log:\n"
          + "\n".join(log_lines(stderr)))
    # Backoff holds: one run at a time probes the server, the others are skipped.
    assert scheduled >= 8 and attempts <= scheduled / 3
    warnings = log_lines(stderr, "WARNING") + log_lines(stderr, "ERROR")
    assert [w for w in warnings if "flaky" not in w] == [], "nothing else to warn about"
    down = [w for w in warnings if "no answer from the server in 2 s (connecting); retrying "
            "with backoff" in w]
    back = [re.search(r"target flaky is reachable again after (\d+) s \((\d+) failed "
                      r"attempts, (\d+) runs skipped\)", w) for w in warnings]
    assert len(down) == 1 and len(warnings) == 2, warnings
    [recovered] = [m for m in back if m]
    seconds, failed, skipped = map(int, recovered.groups())
    assert seconds >= 8 and failed >= 1 and skipped >= 12
    assert "psycopg" not in stderr


def test_a_store_outage_keeps_collection_on_schedule_and_loses_nothing(
        pg_cluster: LocalCluster, store_cluster: LocalCluster, tmp_path: Path) -> None:
    store = store_cluster.dsn()
    config = write_config_file(tmp_path / "k.toml", store, {"local": monitor_dsn(pg_cluster)},
                               extra="[intervals]\nconnections = 1\nconnection_limits = 1\n")
    process = start_collector(config)
    outage_seconds = 10
    try:
        wait_until(lambda: store_rows(store, "SELECT count(*) FROM kasho_ops.collector_runs")[0][0]
                   >= 6, 60, "the first runs")
        store_cluster.stop()
        stopped_at = datetime.now(UTC)
        time.sleep(outage_seconds)
        restarted_at = datetime.now(UTC)
        store_cluster.start()
        wait_until(lambda: store_rows(
            store, "SELECT count(*) FROM kasho_ops.collector_runs WHERE started_at > %s",
            [restarted_at + timedelta(seconds=2)])[0][0] >= 2, 60, "runs after the outage")
    finally:
        stderr = stop_collector(process)
    window = {"start": stopped_at, "end": restarted_at}
    per_group = dict(store_rows(
        store, "SELECT metric_group, count(*) FROM kasho_ops.collector_runs WHERE started_at "
        ">= %(start)s AND started_at < %(end)s AND error IS NULL GROUP BY 1", window))
    print(f"\n{outage_seconds} s of store outage: runs stored from it: {per_group}; log:\n"
          + "\n".join(log_lines(stderr, "WARNING") + log_lines(stderr, "ERROR")))
    # On schedule (every second, give or take jitter and a loaded machine), and all stored.
    for group in ("connections", "connection_limits"):
        assert per_group.get(group, 0) >= outage_seconds * 0.6, per_group
    runs, limit_rows = store_rows(store, "SELECT (SELECT count(*) FROM kasho_ops.collector_runs "
                                  "WHERE metric_group = 'connection_limits'), (SELECT count(*) "
                                  "FROM kasho_ops.connection_limits)")[0]
    assert runs == limit_rows  # every run's row arrived with its run record
    # One line from the store writer (others may quote its reason, e.g. the lease renewal).
    assert len(re.findall("collectors.core.store: metrics store unavailable", stderr)) == 1, \
        stderr
    assert len(re.findall(r"metrics store is back after \d+ s; writing \d+ buffered rows, "
                          r"newest first \(0 dropped while it was down\)", stderr)) == 1, stderr
    assert "rows not written" not in stderr


def test_a_frozen_store_never_slows_collection(
        pg_cluster: LocalCluster, store_cluster: LocalCluster,
        caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(store_cluster.dsn(), {"local": monitor_dsn(pg_cluster)})
    store = MetricStore(config.store.dsn, statement_timeout_ms=1000, connect_timeout_seconds=2)
    store.open()
    catalog = load_catalog()
    collector = Collector(config, [catalog["connection_limits"]], store)
    group, target = collector.groups[0], config.targets[0]
    try:
        assert collector.collect(group, target).error is None
        assert store.flush(30)
        with caplog.at_level(logging.WARNING, logger="collectors.core.store"), \
                frozen(store_cluster):
            records, took = [], []
            for _ in range(10):  # a run every 0.5 s for 5 s, past the store's 2 s deadline
                started = time.monotonic()
                records.append(collector.collect(group, target))
                took.append(time.monotonic() - started)
                time.sleep(0.5)
            assert store.pending_rows >= 20  # 10 runs: one row and one run record each
        print(f"\n10 runs against a frozen store: the slowest took {max(took):.2f} s")
        assert all(r.error is None for r in records)
        assert sum(took) < 20, "collection waited for the store"
        with caplog.at_level(logging.WARNING, logger="collectors.core.store"):
            assert store.flush(60), "the buffered rows were not written after the thaw"
    finally:
        collector.close()
        store.close()
    [(count,)] = store_rows(store_cluster.dsn(), "SELECT count(*) FROM kasho_ops.connection_limits")
    assert count == 11
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if m.startswith("metrics store unavailable (no answer from "
                                                "the server in 2 s")] != [], messages
    assert len([m for m in messages if m.startswith("metrics store is back after")]) == 1


REFUSED_GROUP = MetricGroup(
    name="connection_limits", description="a row the store table refuses: text in an integer",
    interval_seconds=60, kind="gauge", keys=(), unit="", requires="pg_monitor",
    sql_by_major=((13, "SELECT 'lots'::text AS max_connections, 3 AS reserved_connections, "
                       "1 AS client_connections"),))


def test_a_write_the_store_refuses_is_the_runs_error_and_collection_goes_on(
        pg_cluster: LocalCluster, fresh_store: str, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster)})
    store = MetricStore(config.store.dsn)
    store.open()
    good = load_catalog()["connection_limits"]
    collector = Collector(config, [REFUSED_GROUP, good], store)
    target = config.targets[0]
    try:
        with caplog.at_level(logging.ERROR, logger="collectors.core.store"):
            refused = [collector.collect(REFUSED_GROUP, target) for _ in range(3)]
            kept = collector.collect(good, target)
            assert store.flush(30)
    finally:
        collector.close()
        store.close()
    assert [r.error for r in refused] == [None] * 3  # reading worked; the store said no
    assert kept.error is None
    runs = store_rows(fresh_store, "SELECT rows_written, error FROM kasho_ops.collector_runs "
                      "ORDER BY started_at")
    expected = ("the store refused this run's rows: invalid input syntax for type integer: "
                '"…" (SQLSTATE 22P02)')
    assert runs == [(0, expected)] * 3 + [(1, None)], runs
    assert store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.connection_limits") == [(1,)]
    assert store.writer.stats.rows_rejected == 3
    logged = [r.getMessage() for r in caplog.records]
    refusals = [m for m in logged if m.startswith("metrics store refused rows")]
    assert len(refusals) == 1, logged  # logged once, however often it happens
    assert logged[-1] == ("metrics store: 0 rows not written at exit (store unavailable), 0 "
                          "dropped while it was down, 3 refused by the store")
    assert "lots" not in refusals[0] and "lots" not in runs[0][1]
