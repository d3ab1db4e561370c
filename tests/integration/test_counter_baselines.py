"""Counter baselines kept in the store: no interval lost or doubled across processes,
crashes, races and store outages; intervals on the server's clock; texts read once."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from collectors.core.baselines import encode_key
from collectors.core.query_marker import QUERY_MARKER
from collectors.core.scheduler import Collector
from collectors.core.store import RunRecord
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.integration.activity_setup import own_cluster
from tests.integration.collector_setup import (
    make_config,
    monitor_dsn,
    open_collector,
    write_config_file,
)
from tests.integration.test_query_stats import (
    LEDGER_QUERY,
    calls_stored,
    run_times,
    statement_id,
    store_rows,
)

# Baselines, runs and races live in the store and the collector processes: the same on every
# server major (query_stats itself runs on each in test_query_stats and test_collect). The
# two-process test below stays on every major: it reads the text query's own statistics.
STORE_SIDE = pytest.mark.single_major
BASELINE_NOTE = "first sample: baseline taken, deltas from the next run"
# How pg_stat_statements keeps the text query on every major (collectors/core/query_marker.py).
TEXT_QUERY_PREFIX = f"SELECT {QUERY_MARKER} -- query_stats texts"


@pytest.fixture
def ledger_db(pg_cluster: LocalCluster, fresh_database: str) -> str:
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (account_id int, amount numeric)")
        conn.execute("INSERT INTO ledger SELECT g % 10, g FROM generate_series(1, 100) g")
    return fresh_database


def collect_once(config: Path, *groups: str) -> str:
    """`kasho-ops collect --once` in its own process; its stdout."""
    argv = [sys.executable, "-m", "collectors.cli", "collect", "--once", "--config", str(config)]
    for group in groups:
        argv += ["--group", group]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def text_rows_read(admin_dsn: str) -> int:
    """How many text rows the query_stats text query has returned from the server so far."""
    with psycopg.connect(admin_dsn) as conn:
        (rows,) = conn.execute("SELECT coalesce(sum(rows), 0)::bigint FROM pg_stat_statements "
                               "WHERE query LIKE %s", [TEXT_QUERY_PREFIX + "%"]).fetchone()
    return int(rows)


def texts_first_stored_by_last_run(store_dsn: str) -> int:
    return int(store_rows(store_dsn, "SELECT count(*) FROM kasho_ops.query_texts WHERE "
                          "first_seen_at = (SELECT max(collected_at) FROM kasho_ops.query_stats)"
                          )[0][0])


def test_two_collect_once_processes_store_exactly_the_calls_between_them(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str, tmp_path: Path) -> None:
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"local": monitor_dsn(pg_cluster)})
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 1)  # in the baseline with 1 call
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")

    first = collect_once(config, "query_stats")
    assert f"note: {BASELINE_NOTE}" in first  # and no priming: nothing stored yet
    assert store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.query_stats") == [(0,)]

    run_times(app, LEDGER_QUERY, 7)
    run_times(app, "SELECT max(amount) FROM ledger WHERE account_id = %s", 3)  # new: all 3
    second = collect_once(config, "query_stats")
    assert "note: continued from the stored baseline" in second
    assert calls_stored(fresh_store, queryid, dbid) == [7]
    max_id, _, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT max(amount)")
    assert calls_stored(fresh_store, max_id, dbid) == [3]

    run_times(app, LEDGER_QUERY, 2)
    read_before = text_rows_read(pg_cluster.dsn())
    collect_once(config, "query_stats")
    assert calls_stored(fresh_store, queryid, dbid) == [7, 2]
    # The third process knows the stored texts: the server sent it only texts it stored
    # for the first time (statements new since the last run), never the ledger's again.
    assert text_rows_read(pg_cluster.dsn()) - read_before \
        == texts_first_stored_by_last_run(fresh_store)
    [(interval_ok,)] = store_rows(
        fresh_store, "SELECT bool_and(interval_seconds > 0) FROM kasho_ops.query_stats")
    assert interval_ok
    texts = store_rows(fresh_store, "SELECT query FROM kasho_ops.query_texts WHERE queryid "
                       "IN (%s, %s) ORDER BY 1", [queryid, max_id])
    assert texts == [("SELECT count(*) FROM ledger WHERE account_id = $1",),
                     ("SELECT max(amount) FROM ledger WHERE account_id = $1",)]


@STORE_SIDE
def test_a_server_restart_between_once_runs_starts_a_new_baseline(
        tmp_path: Path, fresh_store: str) -> None:
    with own_cluster() as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE TABLE ledger (account_id int, amount numeric)")
        config = write_config_file(tmp_path / "k.toml", fresh_store,
                                   {"restarting": monitor_dsn(cluster)})
        run_times(cluster.dsn(), LEDGER_QUERY, 10)
        queryid, dbid, _ = statement_id(cluster.dsn(), "postgres", "SELECT count(*)")
        assert f"note: {BASELINE_NOTE}" in collect_once(config, "query_stats")
        run_times(cluster.dsn(), LEDGER_QUERY, 5)
        cluster.restart()  # a clean restart keeps pg_stat_statements' counters
        cluster.wait_ready()
        run_times(cluster.dsn(), LEDGER_QUERY, 4)
        across = collect_once(config, "query_stats")
        assert "note: the server restarted since the last sample: new baseline" in across
        assert calls_stored(fresh_store, queryid, dbid) == []
        run_times(cluster.dsn(), LEDGER_QUERY, 3)
        collect_once(config, "query_stats")
        assert calls_stored(fresh_store, queryid, dbid) == [3]


@contextmanager
def scheduled_collector(config: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "collectors.cli", "collect", "--config", str(config),
         "--group", "query_stats"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def wait_until(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def successful_runs(store_dsn: str) -> int:
    return int(store_rows(store_dsn, "SELECT count(*) FROM kasho_ops.collector_runs WHERE "
                          "metric_group = 'query_stats' AND error IS NULL")[0][0])


@STORE_SIDE
def test_kill_9_in_the_middle_of_a_write_and_a_restart_store_the_interval_exactly_once(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str, tmp_path: Path) -> None:
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"local": monitor_dsn(pg_cluster)},
                               extra="[intervals]\nquery_stats = 1\n")
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 1)
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    with scheduled_collector(config) as first:
        wait_until(lambda: successful_runs(fresh_store) >= 2, "the baseline and a run")
        # Hold the run records' table: the next write stops after its metric rows and the
        # new baseline are in its transaction, before it commits; it is killed right there.
        with psycopg.connect(fresh_store) as blocker:
            blocker.execute("LOCK TABLE kasho_ops.collector_runs IN EXCLUSIVE MODE")
            run_times(app, LEDGER_QUERY, 10)

            def write_is_blocked() -> bool:
                return bool(store_rows(pg_cluster.dsn(), """
                    SELECT 1 FROM pg_stat_activity WHERE application_name = 'kasho-ops-store'
                      AND wait_event_type = 'Lock' AND query LIKE 'COPY%%collector_runs%%'"""))

            wait_until(write_is_blocked, "the collector's write to wait on the lock", 30)
            first.kill()  # SIGKILL: no cleanup, the open transaction dies with the process
            first.wait(timeout=30)
            blocker.rollback()
    assert calls_stored(fresh_store, queryid, dbid) == []  # the killed write left nothing
    run_times(app, LEDGER_QUERY, 5)
    with scheduled_collector(config):
        wait_until(lambda: sum(calls_stored(fresh_store, queryid, dbid)) >= 15,
                   "the restarted collector to store the interval")
        runs = successful_runs(fresh_store)
        wait_until(lambda: successful_runs(fresh_store) >= runs + 3, "three more runs")
    assert sum(calls_stored(fresh_store, queryid, dbid)) == 15  # once, never twice


def collector_pair(store_dsn: str, target_dsn: str) -> tuple[Collector, Collector]:
    """Two collectors (as two processes would be) on one target and one store."""
    config = make_config(store_dsn, {"shared": target_dsn})
    return open_collector(config, ["query_stats"]), open_collector(config, ["query_stats"])


def collect(collector: Collector) -> RunRecord:
    return collector.collect(collector.groups[0], collector.config.targets[0])


@STORE_SIDE
def test_a_stale_collector_cannot_overwrite_a_newer_baseline_or_store_twice(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str) -> None:
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 1)
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    a, b = collector_pair(fresh_store, monitor_dsn(pg_cluster))
    try:
        assert collect(a).note == BASELINE_NOTE
        continued = collect(b)  # B has no baseline in memory: it continues from A's
        assert continued.error is None and "continued from the stored" in (continued.note or "")
        run_times(app, LEDGER_QUERY, 5)
        stale = collect(a)  # A still holds its own first baseline, which B replaced
        assert stale.error is not None and "moved since this run read it" in stale.error
        assert stale.rows_written == 0
        assert calls_stored(fresh_store, queryid, dbid) == []
        run_times(app, LEDGER_QUERY, 2)
        assert collect(a).error is None  # A read the store's baseline again
        assert calls_stored(fresh_store, queryid, dbid) == [7]
    finally:
        for collector in (a, b):
            collector.close()
            collector.store.close()
    errors = store_rows(fresh_store, "SELECT error FROM kasho_ops.collector_runs "
                        "WHERE error IS NOT NULL")
    assert [e for (e,) in errors] == [stale.error]


@STORE_SIDE
def test_two_collectors_racing_on_one_baseline_store_the_interval_once(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str) -> None:
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 1)
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    a, b = collector_pair(fresh_store, monitor_dsn(pg_cluster))
    try:
        assert collect(a).error is None  # the baseline; B will read it from the store
        run_times(app, LEDGER_QUERY, 6)
        records: list[RunRecord] = []
        with psycopg.connect(fresh_store) as blocker:
            blocker.execute("SELECT 1 FROM kasho_ops.counter_baselines FOR UPDATE")
            threads = [threading.Thread(target=lambda c=c: records.append(collect(c)))
                       for c in (a, b)]
            for thread in threads:
                thread.start()
            wait_until(lambda: store_rows(pg_cluster.dsn(), """
                SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kasho-ops-store'
                  AND wait_event_type = 'Lock'""")[0][0] == 2, "both writes to wait", 30)
            blocker.rollback()  # both UPDATEs go ahead, one after the other
            for thread in threads:
                thread.join(timeout=30)
    finally:
        for collector in (a, b):
            collector.close()
            collector.store.close()
    outcomes = sorted((r.error is None, r.rows_written > 0) for r in records)
    assert outcomes == [(False, False), (True, True)]
    assert calls_stored(fresh_store, queryid, dbid) == [6]


@STORE_SIDE
def test_rows_computed_while_the_store_is_down_are_recomputed_once_it_is_back(
        pg_cluster: LocalCluster, ledger_db: str) -> None:
    with own_cluster() as store_cluster:
        MigrationRunner(store_cluster.dsn(), "monitoring").up()
        store = store_cluster.dsn()
        collector = open_collector(make_config(store, {"local": monitor_dsn(pg_cluster)}),
                                   ["query_stats"])
        app = pg_cluster.dsn(ledger_db)
        run_times(app, LEDGER_QUERY, 1)
        queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
        try:
            assert collect(collector).error is None
            run_times(app, LEDGER_QUERY, 4)
            store_cluster.stop()
            during = collect(collector)
            assert during.error is None and during.rows_written == 0
            run_times(app, LEDGER_QUERY, 3)
            store_cluster.start()
            store_cluster.wait_ready()
            assert collect(collector).error is None
        finally:
            collector.close()
            collector.store.close()
        assert calls_stored(store, queryid, dbid) == [7]  # nothing lost, nothing buffered twice
        notes = store_rows(store, "SELECT note FROM kasho_ops.collector_runs "
                           "WHERE note LIKE '%%store was unavailable%%'")
        assert len(notes) == 1


@STORE_SIDE
def test_the_interval_is_measured_on_the_server_not_before_waiting_for_a_connection(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str) -> None:
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster)},
                         max_connections_per_target=1)
    collector = open_collector(config, ["query_stats"])
    run_times(pg_cluster.dsn(ledger_db), LEDGER_QUERY, 1)
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    held = threading.Event()
    released_at: list[datetime] = []  # the server's clock as the holder lets go
    try:
        assert collect(collector).error is None
        [(first_read_at,)] = store_rows(fresh_store,
                                        "SELECT taken_at FROM kasho_ops.counter_baselines")
        run_times(pg_cluster.dsn(ledger_db), LEDGER_QUERY, 2)
        connections = collector.engine.connections_for(config.targets[0])

        def hold_the_only_connection() -> None:
            with connections.connection() as conn:
                held.set()
                time.sleep(2.0)
                # Let go only once the run below waits for this connection (not on a timer
                # that a loaded machine may outrun).
                deadline = time.monotonic() + 60
                while not connections.waiting and time.monotonic() < deadline:
                    time.sleep(0.02)
                row = conn.execute("SELECT clock_timestamp()").fetchone()
                assert row is not None
                released_at.append(row[0])

        holder = threading.Thread(target=hold_the_only_connection)
        holder.start()
        assert held.wait(60)
        record = collect(collector)  # starts now, reads once the holder lets go
        holder.join()
        assert record.error is None
    finally:
        collector.close()
        collector.store.close()
    [(interval, collected_at, run_started)] = store_rows(fresh_store, """
        SELECT s.interval_seconds, s.collected_at, max(r.started_at)
        FROM kasho_ops.query_stats s, kasho_ops.collector_runs r
        WHERE s.queryid = %s AND s.dbid = %s GROUP BY 1, 2""", [queryid, dbid])
    # The run started while the connection was held and read after it was let go; its
    # interval runs from read to read on the server's clock, so it covers the wait, where a
    # client timestamp taken when the run started would not.
    assert run_started < released_at[0] <= collected_at
    assert interval == pytest.approx((collected_at - first_read_at).total_seconds(), abs=1e-3)
    assert interval >= 2.0


def test_only_series_that_changed_are_rewritten_in_the_stored_baseline(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str) -> None:
    collector = open_collector(make_config(fresh_store, {"local": monitor_dsn(pg_cluster)}),
                               ["query_stats"])
    app = pg_cluster.dsn(ledger_db)
    try:
        assert collect(collector).error is None
        before = dict(store_rows(fresh_store, "SELECT series, xmin::text FROM "
                                 "kasho_ops.counter_baseline_series"))
        run_times(app, LEDGER_QUERY, 3)
        record = collect(collector)
        assert record.error is None
        after = dict(store_rows(fresh_store, "SELECT series, xmin::text FROM "
                                "kasho_ops.counter_baseline_series"))
        [(count,)] = store_rows(fresh_store, "SELECT series_count FROM "
                                "kasho_ops.counter_baselines")
    finally:
        collector.close()
        collector.store.close()
    rewritten = [s for s in after if before.get(s) != after[s]]
    assert len(before) >= 20 and count == len(after)
    # The statements that ran: ours, the collector's own reads; never the idle rest.
    assert record.rows_written <= len(rewritten) < len(before) / 2
    ledger = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    assert encode_key((*ledger, True)) in rewritten
