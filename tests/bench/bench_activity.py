"""Collection cost of the activity groups with 500 open connections, against the bare
views they read, measured in the same run on the same server.

Run: make bench PYTEST_ARGS="-k activity"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_activity.py)

The server (our own cluster, max_connections 600) holds 500 client sessions: 400 idle, 40
idle in a transaction holding row locks, 20 running pg_sleep, and a pile-up of 40 behind
one ACCESS EXCLUSIVE lock (1 holder, 39 queued: every queued session is blocked by the
holder and by everyone ahead of it, 780 blocking edges). Each query runs REPEAT times in
its own transaction (a fresh pg_stat_activity snapshot each time) on one monitoring
session; the engine rows add pool checkout, the timeout setting and, for run(), the COPY
into the store.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.core.connections import monitoring_connect_kwargs
from collectors.core.engine import Engine
from collectors.core.metric_groups import load_catalog
from collectors.core.store import MetricStore
from collectors.live.activity import LiveActivity, blocking_forest
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.activity_setup import own_cluster, wait_for_session
from tests.integration.collector_setup import make_config
from tests.pg import HeldSession

pytestmark = pytest.mark.bench
IDLE, IDLE_IN_TRANSACTION, SLEEPING, QUEUE = 400, 40, 20, 40
CONNECTIONS = IDLE + IDLE_IN_TRANSACTION + SLEEPING + QUEUE
REPEAT = 25
GROUPS = ["connections", "connection_limits", "session_ages", "wait_events", "lock_waits",
          "prepared_transactions", "database_stats"]
BARE = {
    "pg_stat_activity": "SELECT * FROM pg_stat_activity",
    "pg_locks": "SELECT * FROM pg_locks",
    "pg_stat_database": "SELECT * FROM pg_stat_database",
    "pg_prepared_xacts": "SELECT * FROM pg_prepared_xacts",
    "pg_blocking_pids(all)": "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity",
}


@pytest.fixture(scope="module")
def busy_server() -> Iterator[LocalCluster]:
    with own_cluster(max_connections="600", max_prepared_transactions="5") as cluster:
        yield from hold_500_sessions(cluster)


def hold_500_sessions(cluster: LocalCluster) -> Iterator[LocalCluster]:
    sessions: list[HeldSession] = []
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE kasho")
        dsn = cluster.dsn("kasho")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
            conn.execute("INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 100) g")
            conn.execute("CREATE TABLE ledger (id int)")
        for i in range(IDLE):
            session = HeldSession(dsn, f"api-{i % 8}")
            session.execute("SELECT balance FROM accounts WHERE id = %s", [i % 100 + 1])
            sessions.append(session)
        for i in range(IDLE_IN_TRANSACTION):
            session = HeldSession(dsn, "worker")
            session.execute("BEGIN")
            session.execute("UPDATE accounts SET balance = balance WHERE id = %s", [i + 1])
            sessions.append(session)
        for _ in range(SLEEPING):
            session = HeldSession(dsn, "report")
            session.execute_in_background("SELECT pg_sleep(600)")
            sessions.append(session)
        holder = HeldSession(dsn, "migration")
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
        sessions.append(holder)
        for _ in range(QUEUE - 1):
            session = HeldSession(dsn, "api-queue")
            session.execute("BEGIN")
            session.execute_in_background("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
            wait_for_session(cluster.dsn(), session.pid, wait_event_type="Lock")
            sessions.append(session)
        with psycopg.connect(cluster.dsn()) as conn:
            clients = conn.execute("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE backend_type = 'client backend'").fetchone()[0]
        assert clients == CONNECTIONS + 1, clients  # + the session that counted
        yield cluster
    finally:
        cluster.stop(mode="immediate")  # ends every backend, so the background statements return
        for session in sessions:
            session.join(5)
            session.conn.close()


def timed(run: Callable[[], object]) -> tuple[float, float, object]:
    """Median and p95 of REPEAT runs in milliseconds, after one warm-up; and the last result."""
    result = run()
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        result = run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], result


def test_activity_collection_cost_with_500_connections(busy_server: LocalCluster) -> None:
    with own_cluster() as store_cluster:
        MigrationRunner(store_cluster.dsn(), "monitoring").up()
        config = make_config(store_cluster.dsn(),
                             {"busy": busy_server.dsn("kasho", MONITOR_ROLE)})
        target, catalog = config.targets[0], load_catalog()
        results: list[tuple[str, int, float, float]] = []
        with psycopg.connect(**monitoring_connect_kwargs(target, config.collector),
                             autocommit=True) as conn:
            major = conn.info.server_version // 10000

            def query(text: str) -> Callable[[], int]:
                return lambda: len(conn.execute(text).fetchall())

            for name, text in BARE.items():
                median, p95, rows = timed(query(text))
                results.append((f"bare {name}", int(rows), median, p95))
            for name in GROUPS:
                median, p95, rows = timed(query(catalog[name].sql_for(major)))
                results.append((f"{name} (its SQL)", int(rows), median, p95))

        store = MetricStore(config.store.dsn)
        store.open()
        engine = Engine(config.collector, store)
        try:
            for name in GROUPS:
                group = catalog[name]
                median, p95, read = timed(lambda g=group: engine.read(g, target))
                results.append((f"{name} engine.read", len(read.rows), median, p95))
                median, p95, record = timed(lambda g=group: engine.run(g, target))
                assert record.error is None, record.error
                results.append((f"{name} engine.run (+ store COPY)",
                                record.rows_written, median, p95))
        finally:
            engine.close()
            store.close()

        live = LiveActivity(config.collector)
        try:
            median, p95, snapshot = timed(lambda: live.snapshot(target))
            results.append(("live Activity snapshot", len(snapshot.sessions), median, p95))
            median, p95, forest = timed(lambda: blocking_forest(snapshot.sessions))
            nodes = sum(1 for tree in forest for _ in tree.walk())
            results.append(("blocking_forest (Python)", nodes, median, p95))
        finally:
            live.close()

    base = next(r[2] for r in results if r[0] == "bare pg_stat_activity")
    lines = [f"{CONNECTIONS} client connections (max_connections 600), {REPEAT} runs each, "
             "PostgreSQL 15 on loopback",
             f"{'what':<46} {'rows':>6} {'median ms':>10} {'p95 ms':>8} {'x bare psa':>10}"]
    lines += [f"{name:<46} {rows:>6} {median:>10.2f} {p95:>8.2f} {median / base:>10.1f}"
              for name, rows, median, p95 in results]
    report = "\n".join(lines)
    print("\n" + report)
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "bench_activity.txt").write_text(report + "\n")
    by_name = {r[0]: r for r in results}
    assert by_name["lock_waits (its SQL)"][1] == QUEUE - 1
    assert by_name["live Activity snapshot"][1] == CONNECTIONS
