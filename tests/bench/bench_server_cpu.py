"""What one collection cycle costs the monitored server, side by side with the bare reads of
the same views and with postgres_exporter, on one PostgreSQL 15 server in one run.

The hard case: 1,250 structurally distinct statements of 2-4 kB of text each in
pg_stat_statements (about 4 MB of query-text file) and a pgbench payments workload running
throughout. Three parties, each with its own role so its backends can be told apart:
  bare      `SELECT * FROM <view>` of every view the catalogue's groups read, one per group
  kasho     one warm cycle of Kasho Ops: every catalogue group once (engine.run, store on
            another cluster, so its writes cost this server nothing)
  exporter  one scrape of Debian's prometheus-postgres-exporter (default metrics plus a
            pg_stat_statements query file) on loopback
Each is warmed up, then measured REPETITIONS times, interleaved, in rotating order. Server
CPU is the on-CPU time of the party's backends (/proc/<pid>/schedstat, nanoseconds),
summed over its backends, before and after each cycle.

Run: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_server_cpu.py
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.core.engine import Engine
from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import QUERY_MARKER
from collectors.core.store import MetricStore
from demo.cluster import LocalCluster
from tests.integration.collector_setup import make_config
from tests.pg import free_port

pytestmark = pytest.mark.bench
STATEMENTS = 1_250
TABLES = 25
REPETITIONS = 20
WARM_UP = 12  # enough for psycopg to prepare every repeated statement on every connection
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
EXPORTER = shutil.which("prometheus-postgres-exporter") or "/usr/bin/prometheus-postgres-exporter"
ROLES = {"bare": "bench_bare", "kasho": "bench_kasho", "exporter": "bench_exporter"}
# The views each catalogue group reads, read bare: what any collector of them pays at least.
BARE_READS = {
    "database_size": "SELECT datname, pg_database_size(oid) FROM pg_database",
    "connections": "SELECT * FROM pg_stat_activity",
    "connection_limits": "SELECT * FROM pg_stat_activity",
    "database_stats": "SELECT * FROM pg_stat_database",
    "session_ages": "SELECT * FROM pg_stat_activity",
    "wait_events": "SELECT * FROM pg_stat_activity",
    "lock_waits": "SELECT * FROM pg_locks",
    "prepared_transactions": "SELECT * FROM pg_prepared_xacts",
    "query_stats": "SELECT * FROM pg_stat_statements",
    "query_stats_info": "SELECT * FROM pg_stat_statements_info",
}
PAYMENTS = """\\set from random(1, 10000)
\\set to random(1, 10000)
\\set amount random(1, 50000)
BEGIN;
UPDATE bench_accounts SET balance = balance - :amount WHERE id = :from;
UPDATE bench_accounts SET balance = balance + :amount WHERE id = :to;
INSERT INTO bench_payments (from_id, to_id, amount) VALUES (:from, :to, :amount);
END;
SELECT balance FROM bench_accounts WHERE id = :from;
"""
# The pg_stat_statements query of the exporter's example queries.yaml, with PostgreSQL 13+
# column names.
EXPORTER_QUERIES = """pg_stat_statements:
  query: >-
    SELECT t2.rolname, t3.datname, queryid, calls,
    total_exec_time / 1000 as total_time_seconds, min_exec_time / 1000 as min_time_seconds,
    max_exec_time / 1000 as max_time_seconds, mean_exec_time / 1000 as mean_time_seconds,
    stddev_exec_time / 1000 as stddev_time_seconds, rows, shared_blks_hit, shared_blks_read,
    shared_blks_dirtied, shared_blks_written, local_blks_hit, local_blks_read,
    local_blks_dirtied, local_blks_written, temp_blks_read, temp_blks_written,
    blk_read_time / 1000 as blk_read_time_seconds,
    blk_write_time / 1000 as blk_write_time_seconds
    FROM pg_stat_statements t1 JOIN pg_roles t2 ON (t1.userid=t2.oid)
    JOIN pg_database t3 ON (t1.dbid=t3.oid) WHERE t2.rolname != 'rdsadmin'
  master: true
  metrics:
    - rolname: {usage: "LABEL", description: "Name of user"}
    - datname: {usage: "LABEL", description: "Name of database"}
    - queryid: {usage: "LABEL", description: "Query ID"}
    - calls: {usage: "COUNTER", description: "Number of times executed"}
    - total_time_seconds: {usage: "COUNTER", description: "Total time spent in the statement"}
    - min_time_seconds: {usage: "GAUGE", description: "Minimum time spent in the statement"}
    - max_time_seconds: {usage: "GAUGE", description: "Maximum time spent in the statement"}
    - mean_time_seconds: {usage: "GAUGE", description: "Mean time spent in the statement"}
    - stddev_time_seconds: {usage: "GAUGE", description: "Standard deviation of the time"}
    - rows: {usage: "COUNTER", description: "Rows retrieved or affected"}
    - shared_blks_hit: {usage: "COUNTER", description: "Shared block cache hits"}
    - shared_blks_read: {usage: "COUNTER", description: "Shared blocks read"}
    - shared_blks_dirtied: {usage: "COUNTER", description: "Shared blocks dirtied"}
    - shared_blks_written: {usage: "COUNTER", description: "Shared blocks written"}
    - local_blks_hit: {usage: "COUNTER", description: "Local block cache hits"}
    - local_blks_read: {usage: "COUNTER", description: "Local blocks read"}
    - local_blks_dirtied: {usage: "COUNTER", description: "Local blocks dirtied"}
    - local_blks_written: {usage: "COUNTER", description: "Local blocks written"}
    - temp_blks_read: {usage: "COUNTER", description: "Temp blocks read"}
    - temp_blks_written: {usage: "COUNTER", description: "Temp blocks written"}
    - blk_read_time_seconds: {usage: "COUNTER", description: "Time reading blocks"}
    - blk_write_time_seconds: {usage: "COUNTER", description: "Time writing blocks"}
"""


def statement_texts() -> list[str]:
    """1,250 structurally distinct statements (a different number of output columns over 25
    tables) of 2-4 kB each; the constants normalize away, the structure does not."""
    texts = []
    for i in range(STATEMENTS):
        table, width = i % TABLES, 30 + i // TABLES
        columns = ",\n       ".join(
            f"coalesce(c{k % 10}, 0) * {k + 1} + length(coalesce(note, '')) "
            f"AS payment_metric_{k:03d}" for k in range(width))
        texts.append(f"SELECT {columns}\nFROM bench_t{table}\nWHERE id = $1")
    return texts


def on_cpu_ns(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (FileNotFoundError, ProcessLookupError):
        return 0


class CpuMeter:
    """On-CPU time of every backend of one role, read from /proc."""

    def __init__(self, admin: psycopg.Connection, role: str) -> None:
        self.admin = admin
        self.role = role

    def pids(self) -> set[int]:
        return {r[0] for r in self.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s", [self.role]).fetchall()}

    def measure(self, cycle: Callable[[], object]) -> tuple[float, float]:
        """(server CPU ms, wall ms) of one call of `cycle`."""
        before_pids = self.pids()
        before = {pid: on_cpu_ns(pid) for pid in before_pids}
        clock = time.perf_counter()
        cycle()
        wall = (time.perf_counter() - clock) * 1000
        after = {pid: on_cpu_ns(pid) for pid in before_pids | self.pids()}
        return sum(after[p] - before.get(p, 0) for p in after) / 1e6, wall


@pytest.fixture(scope="module")
def target() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-bench-cpu-"))
    cluster = LocalCluster(base / "pg", free_port(),
                           settings={"pg_stat_statements.max": "5000",
                                     "pg_stat_statements.track": "'top'",
                                     "max_connections": "50"})
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            for role in ROLES.values():
                conn.execute(f"CREATE ROLE {role} LOGIN; GRANT pg_monitor TO {role}")
            conn.execute("CREATE EXTENSION pg_stat_statements")
            columns = ", ".join(f"c{i} int" for i in range(10))
            for table in range(TABLES):
                conn.execute(f"CREATE TABLE bench_t{table} (id int PRIMARY KEY, {columns}, "
                             "note text)")
                conn.execute(f"INSERT INTO bench_t{table} SELECT g, g, g, g, g, g, g, g, g, g, "
                             "g, 'n' FROM generate_series(1, 100) g")
            conn.execute("CREATE TABLE bench_accounts (id int PRIMARY KEY, balance bigint)")
            conn.execute("INSERT INTO bench_accounts SELECT g, 1000000 "
                         "FROM generate_series(1, 10000) g")
            conn.execute("CREATE TABLE bench_payments (id bigserial PRIMARY KEY, "
                         "from_id int, to_id int, amount bigint, "
                         "at timestamptz DEFAULT now())")
            with conn.pipeline():
                for text in statement_texts():
                    conn.execute(text.replace("$1", "%s"), [7], prepare=False)
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def payments_workload(target: LocalCluster) -> Iterator[None]:
    script = Path(tempfile.mkdtemp(prefix="kasho-ops-bench-pgbench-")) / "payments.sql"
    script.write_text(PAYMENTS)
    process = subprocess.Popen([PGBENCH, "-n", "-c", "2", "-R", "150", "-T", "3600",
                                "-f", str(script), target.dsn()],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        shutil.rmtree(script.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def exporter(target: LocalCluster) -> Iterator[str]:
    if not Path(EXPORTER).exists():
        pytest.skip("prometheus-postgres-exporter is not installed (apt-get install "
                    "prometheus-postgres-exporter)")
    folder = Path(tempfile.mkdtemp(prefix="kasho-ops-bench-exporter-"))
    queries = folder / "queries.yaml"
    queries.write_text(EXPORTER_QUERIES)
    port = free_port()
    env = {**os.environ, "DATA_SOURCE_NAME": (f"postgresql://{ROLES['exporter']}@127.0.0.1:"
                                              f"{target.port}/postgres?sslmode=disable")}
    process = subprocess.Popen([EXPORTER, f"--web.listen-address=127.0.0.1:{port}",
                                f"--extend.query-path={queries}", "--log.level=error"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError("postgres_exporter did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as response:
        return str(response.read().decode())


def summary(values: list[float]) -> str:
    return (f"mean {statistics.mean(values):6.2f}  median {statistics.median(values):6.2f}  "
            f"min {min(values):6.2f}  max {max(values):6.2f}")


def test_warm_cycle_costs_less_server_cpu_than_bare_reads_and_postgres_exporter(
        target: LocalCluster, payments_workload: None, exporter: str,
        fresh_store: str) -> None:
    catalog = load_catalog()
    config = make_config(fresh_store, {"bench": target.dsn("postgres", ROLES["kasho"])})
    store = MetricStore(config.store.dsn)
    store.open()
    engine = Engine(config.collector, store)
    bare = psycopg.connect(target.dsn("postgres", ROLES["bare"]), autocommit=True)
    admin = psycopg.connect(target.dsn(), autocommit=True)
    meters = {party: CpuMeter(admin, role) for party, role in ROLES.items()}
    per_group: dict[str, list[float]] = {name: [] for name in catalog}
    per_view: dict[str, list[float]] = {name: [] for name in BARE_READS}

    def kasho_cycle(record_groups: bool = False) -> None:
        for name, group in catalog.items():
            cpu, _ = meters["kasho"].measure(lambda g=group: _run_ok(engine, g, config))
            if record_groups:
                per_group[name].append(cpu)

    def bare_cycle(record_views: bool = False) -> None:
        for name, statement in BARE_READS.items():
            cpu, _ = meters["bare"].measure(lambda s=statement: bare.execute(s).fetchall())
            if record_views:
                per_view[name].append(cpu)

    def exporter_cycle() -> None:
        assert "pg_stat_statements_calls" in scrape(exporter)

    try:
        with admin.cursor() as cur:
            (entries, text_bytes) = cur.execute(
                "SELECT count(*), sum(length(query)) FROM pg_stat_statements").fetchone()
        assert entries >= 1_000
        texts_before = text_reads(admin)  # this statement, too, is known before warming up
        for _ in range(WARM_UP):
            kasho_cycle()
            bare_cycle()
        for _ in range(3):
            exporter_cycle()
        cycles: dict[str, Callable[[], object]] = {
            "bare": lambda: bare_cycle(True), "kasho": lambda: kasho_cycle(True),
            "exporter": exporter_cycle}
        cpu: dict[str, list[float]] = {party: [] for party in cycles}
        wall: dict[str, list[float]] = {party: [] for party in cycles}
        order = list(cycles)
        backends_seen: dict[str, set[int]] = {party: set() for party in cycles}
        texts_before = text_reads(admin)
        written_before = baseline_rows_written(fresh_store)
        for repetition in range(REPETITIONS):
            for party in order[repetition % 3:] + order[:repetition % 3]:
                server_ms, wall_ms = meters[party].measure(cycles[party])
                cpu[party].append(server_ms)
                wall[party].append(wall_ms)
                backends_seen[party] |= meters[party].pids()
        texts_read = text_reads(admin) - texts_before
        written = (baseline_rows_written(fresh_store) - written_before) / REPETITIONS
        with psycopg.connect(fresh_store) as conn:
            (series, state_bytes) = conn.execute(
                "SELECT count(*), avg(pg_column_size(s.*))::int FROM "
                "kasho_ops.counter_baseline_series s "
                "WHERE metric_group = 'query_stats'").fetchone()
        kasho, bare_ms, exporter_ms = (statistics.mean(cpu[p]) for p in
                                       ("kasho", "bare", "exporter"))
        print(f"\nserver CPU per cycle, PostgreSQL 15, {entries} statements in "
              f"pg_stat_statements ({text_bytes / 2**20:.1f} MB of text), pgbench payments "
              f"at 150 tps, {REPETITIONS} interleaved repetitions (ms of backend on-CPU time, "
              "/proc/<pid>/schedstat):")
        for party in cycles:
            print(f"  {party:<9} {summary(cpu[party])}   wall median "
                  f"{statistics.median(wall[party]):.1f} ms   backends {len(backends_seen[party])}")
        print(f"  kasho cycles that read statement texts (new statements): {texts_read} of "
              f"{REPETITIONS}")
        print(f"  stored query_stats baseline: {series} series of about {state_bytes} bytes; "
              f"series rows written per warm cycle (all counter groups): {written:.1f}")
        print(f"  ratio kasho / bare reads      {kasho / bare_ms:.2f}  (goal <= 1.0)")
        print(f"  ratio kasho / postgres_exporter {kasho / exporter_ms:.2f}  (goal <= 0.5)")
        print("  kasho per group (mean ms): " + ", ".join(
            f"{name} {statistics.mean(v):.2f}" for name, v in per_group.items()))
        print("  bare per view (mean ms):   " + ", ".join(
            f"{name} {statistics.mean(v):.2f}" for name, v in per_view.items()))
    finally:
        bare.close()
        admin.close()
        engine.close()
        store.close()


def baseline_rows_written(store_dsn: str) -> int:
    """Rows inserted or updated in the stored baseline series so far (statistics flushed)."""
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")
        time.sleep(1.1)  # other sessions flush their table statistics at most once a second
        (written,) = conn.execute(
            "SELECT n_tup_ins + n_tup_upd FROM pg_stat_user_tables "
            "WHERE relname = 'counter_baseline_series'").fetchone()
    return int(written)


def text_reads(admin: psycopg.Connection) -> int:
    (calls,) = admin.execute("SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements "
                             "WHERE query LIKE %s",
                             [f"SELECT {QUERY_MARKER} -- query_stats texts%"]).fetchone()
    return int(calls)


def _run_ok(engine: Engine, group: object, config: object) -> None:
    record = engine.run(group, config.targets[0])  # type: ignore[arg-type, attr-defined]
    assert record.error is None, record.error
