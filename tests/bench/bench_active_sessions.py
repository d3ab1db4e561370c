"""What active session sampling costs the monitored server, against the bare read of
pg_stat_activity, measured in the same run on the same server.

Run: make bench PYTEST_ARGS="-k active_sessions"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_active_sessions.py)

The server (our own cluster) holds 300 client sessions: 260 idle, 20 idle in a transaction,
20 running pg_sleep. Each way of reading runs CALLS times on one monitoring session, in
rounds that alternate the ways so load changes hit both alike. Server cost is the CPU
(user + system) of that session's backend process, read from /proc before and after: what
the server spends, whatever the network. The sample is what the engine sends every second:
the active_sessions SQL with its marker, in a transaction (BEGIN, SELECT, COMMIT), through
the engine itself.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.core.connections import monitoring_connect_kwargs
from collectors.core.engine import Engine
from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import marked
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.activity_setup import own_cluster, wait_for_session
from tests.integration.collector_setup import make_config
from tests.pg import HeldSession

pytestmark = pytest.mark.bench
IDLE, IDLE_IN_TRANSACTION, ACTIVE = 260, 20, 20
CALLS = 2000
ROUNDS = 10
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE = "one sample (BEGIN; active_sessions SQL; COMMIT)"


@pytest.fixture(scope="module")
def busy_server() -> Iterator[LocalCluster]:
    with own_cluster(max_connections="400") as cluster:
        sessions: list[HeldSession] = []
        try:
            for _ in range(IDLE):
                sessions.append(HeldSession(cluster.dsn(), "api"))
            for _ in range(IDLE_IN_TRANSACTION):
                session = HeldSession(cluster.dsn(), "worker")
                session.execute("BEGIN")
                session.execute("SELECT 1")
                sessions.append(session)
            for _ in range(ACTIVE):
                session = HeldSession(cluster.dsn(), "report")
                session.execute_in_background("SELECT pg_sleep(600)")
                sessions.append(session)
            wait_for_session(cluster.dsn(), sessions[-1].pid, state="active")
            yield cluster
        finally:
            cluster.stop(mode="immediate")
            for session in sessions:
                session.join(5)
                session.conn.close()


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@pytest.mark.timeout(1800)
def test_sampling_cost_against_the_bare_pg_stat_activity_read(
        busy_server: LocalCluster) -> None:
    config = make_config("host=127.0.0.1 dbname=unused",
                         {"busy": busy_server.dsn("postgres", MONITOR_ROLE)})
    target, group = config.targets[0], load_catalog()["active_sessions"]
    engine = Engine(config.collector, None)
    sample_sql = marked(group.sql_for(15))
    bare = psycopg.connect(**monitoring_connect_kwargs(target, config.collector),
                           autocommit=True)
    sampled = psycopg.connect(**monitoring_connect_kwargs(target, config.collector))
    ways: dict[str, tuple[int, Callable[[], int]]] = {
        "bare SELECT * FROM pg_stat_activity": (
            bare.info.backend_pid,
            lambda: len(bare.execute("SELECT * FROM pg_stat_activity").fetchall())),
        SAMPLE: (
            sampled.info.backend_pid,
            lambda: _in_transaction(sampled, sample_sql)),
    }
    cpu = {name: 0.0 for name in ways}
    wall: dict[str, list[float]] = {name: [] for name in ways}
    rows = {name: 0 for name in ways}
    try:
        for name, (_, call) in ways.items():
            rows[name] = call()  # warm up
        for _ in range(ROUNDS):
            for name, (pid, call) in ways.items():
                before = backend_cpu_seconds(pid)
                for _ in range(CALLS // ROUNDS):
                    start = time.perf_counter()
                    call()
                    wall[name].append(time.perf_counter() - start)
                cpu[name] += backend_cpu_seconds(pid) - before
        sample = engine.read(group, target)
    finally:
        bare.close()
        sampled.close()
        engine.close()
    base = cpu["bare SELECT * FROM pg_stat_activity"] / CALLS
    lines = [f"{IDLE + IDLE_IN_TRANSACTION + ACTIVE} client sessions ({ACTIVE} active), "
             f"{CALLS} calls each, PostgreSQL {busy_server.bin.parent.name} on loopback, "
             f"load average {os.getloadavg()[0]:.1f}",
             f"{'what':<50} {'rows':>5} {'server CPU ms/call':>18} {'x bare':>7} "
             f"{'median ms':>9}"]
    for name in ways:
        per_call = cpu[name] / CALLS
        lines.append(f"{name:<50} {rows[name]:>5} {per_call * 1000:>18.3f} "
                     f"{per_call / base if base else float('nan'):>7.2f} "
                     f"{statistics.median(wall[name]) * 1000:>9.3f}")
    sample_ms = cpu[SAMPLE] / CALLS * 1000
    lines.append(f"one sample a second = {sample_ms:.2f} ms of server CPU a second "
                 f"({sample_ms / 10:.3f} % of one core)")
    report = "\n".join(lines)
    print("\n" + report)
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "bench_active_sessions.txt").write_text(report + "\n")
    # The sample found the sleeping sessions, one row for them, no text.
    assert [(r["application_name"], r["wait_event"], r["sessions"]) for r in sample.rows] == [
        ("report", "PgSleep", ACTIVE)]


def _in_transaction(conn: psycopg.Connection[tuple[object, ...]], query: str) -> int:
    with conn.transaction():
        return len(conn.execute(query).fetchall())  # type: ignore[arg-type]
