"""One collector process watching 100 targets: its CPU and memory per target, the
connections it holds, how late its runs start, and what it writes into the store.

Run: make bench PYTEST_ARGS="-k many_targets"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_many_targets.py)
KASHO_OPS_BENCH_SECONDS sets the measured window (default 180 s, after a 30 s warm-up).

Three monitored clusters (two PostgreSQL 15, one 18 when the wheel is there) hold 34, 33
and 33 databases, each one target (every target a database, as many small tenants or
services would be), all groups at their default catalogue intervals. The store is a
cluster of its own. `kasho-ops collect` runs as a real child process; psutil samples it.
Bytes per target per day are the store's growth over the window (tables, indexes and
TOAST, partitions created on the way included) scaled to a day, divided by 100.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import ClusterError, LocalCluster, PgInstall, find_pg_install
from tests.pg import free_port

pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[2]
TARGETS = 100
CLUSTERS = 3
WARM_UP_SECONDS = 30
MEASURE_SECONDS = int(os.environ.get("KASHO_OPS_BENCH_SECONDS", "180"))
ROLE = "bench_monitor"  # pg_monitor without the 5-connection limit: 34 targets per cluster


def installs() -> list[PgInstall]:
    majors = [15, 15, 18]
    chosen = []
    for major in majors:
        try:
            chosen.append(find_pg_install(major))
        except ClusterError:
            chosen.append(find_pg_install())
    return chosen


@pytest.fixture(scope="module")
def fleet() -> Iterator[tuple[list[LocalCluster], LocalCluster, list[tuple[str, str]]]]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-bench-fleet-"))
    clusters = [LocalCluster(base / f"c{i}", free_port(), install=install,
                             settings={"max_connections": "300"})
                for i, install in enumerate(installs())]
    store = LocalCluster(base / "store", free_port())
    targets: list[tuple[str, str]] = []
    try:
        for cluster in [*clusters, store]:
            cluster.start()
        for index, cluster in enumerate(clusters):
            count = TARGETS // CLUSTERS + (1 if index < TARGETS % CLUSTERS else 0)
            with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
                conn.execute(f"CREATE ROLE {ROLE} LOGIN IN ROLE pg_monitor")
                for db in range(count):
                    conn.execute(f"CREATE DATABASE tenant_{db}")
            for db in range(count):
                with psycopg.connect(cluster.dsn(f"tenant_{db}"), autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION pg_stat_statements")
                targets.append((f"c{index}-tenant-{db}", cluster.dsn(f"tenant_{db}", ROLE)))
        with psycopg.connect(store.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE kasho_ops")
        MigrationRunner(store.dsn("kasho_ops"), "monitoring").up()
        yield clusters, store, targets
    finally:
        for cluster in [*clusters, store]:
            cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def store_value(store: LocalCluster, query: str, params: object = None) -> object:
    with psycopg.connect(store.dsn("kasho_ops")) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def kasho_ops_sessions(clusters: list[LocalCluster]) -> int:
    total = 0
    for cluster in clusters:
        with psycopg.connect(cluster.dsn()) as conn:
            row = conn.execute("SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = 'kasho-ops'").fetchone()
            total += int(row[0]) if row else 0
    return total


def test_one_collector_with_100_targets(
        fleet: tuple[list[LocalCluster], LocalCluster, list[tuple[str, str]]],
        tmp_path: Path) -> None:
    clusters, store, targets = fleet
    config = tmp_path / "k.toml"
    config.write_text(f'[store]\ndsn = "{store.dsn("kasho_ops")}"\n\n' + "".join(
        f'[[targets]]\nname = "{name}"\ndsn = "{dsn}"\n\n' for name, dsn in targets))
    log = open(tmp_path / "collector.log", "wb")  # noqa: SIM115 - closed below
    collector = subprocess.Popen([sys.executable, "-m", "collectors.cli", "collect",
                                  "--config", str(config)], cwd=ROOT, stdout=log,
                                 stderr=subprocess.STDOUT)
    process = psutil.Process(collector.pid)
    try:
        time.sleep(WARM_UP_SECONDS)
        start = datetime.now(UTC)
        cpu_before = process.cpu_times()
        bytes_before = int(store_value(store, "SELECT pg_database_size('kasho_ops')"))  # type: ignore[arg-type]
        rss, sessions = [], []
        clock = time.monotonic()
        while time.monotonic() - clock < MEASURE_SECONDS:
            rss.append(process.memory_info().rss)
            sessions.append(kasho_ops_sessions(clusters))
            time.sleep(5)
        elapsed = time.monotonic() - clock
        cpu_after = process.cpu_times()
        bytes_after = int(store_value(store, "SELECT pg_database_size('kasho_ops')"))  # type: ignore[arg-type]
        end = datetime.now(UTC)
    finally:
        collector.terminate()
        collector.wait(60)
        log.close()
    with psycopg.connect(store.dsn("kasho_ops")) as conn:
        runs, failed, rows = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE error IS NOT NULL), sum(rows_written) "
            "FROM kasho_ops.collector_runs WHERE started_at > %s AND started_at <= %s",
            [start, end]).fetchone()
        lateness = [r[0] for r in conn.execute(
            "SELECT lateness_ms FROM kasho_ops.collector_runs WHERE started_at > %s "
            "AND started_at <= %s AND lateness_ms IS NOT NULL ORDER BY 1", [start, end])]
        errors = conn.execute(
            "SELECT error, count(*) FROM kasho_ops.collector_runs WHERE error IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC LIMIT 3").fetchall()
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    quantiles = statistics.quantiles(lateness, n=100) if len(lateness) > 1 else [0.0] * 99
    per_day = (bytes_after - bytes_before) / elapsed * 86400
    print(f"\n{TARGETS} targets on {CLUSTERS} clusters, default intervals, "
          f"{elapsed:.0f} s measured after {WARM_UP_SECONDS} s warm-up")
    print(f"  collector CPU          {100 * cpu / elapsed:6.1f} % of one core "
          f"({1000 * cpu / elapsed / TARGETS:.2f} ms CPU per target per second)")
    print(f"  collector memory       {max(rss) / 2**20:6.1f} MiB RSS "
          f"({max(rss) / 2**20 / TARGETS:.2f} MiB per target)")
    print(f"  connections held       {statistics.median(sessions):6.0f} median, "
          f"{max(sessions)} max ({max(sessions) / TARGETS:.2f} per target)")
    print(f"  runs                   {runs} ({failed} failed), {runs / elapsed:.1f} per s")
    print(f"  lateness               p50 {quantiles[49]:.0f} ms, p95 {quantiles[94]:.0f} ms, "
          f"p99 {quantiles[98]:.0f} ms, max {max(lateness or [0]):.0f} ms")
    print(f"  store write rate       {rows / elapsed:6.1f} rows/s, "
          f"{(bytes_after - bytes_before) / elapsed / 1024:.1f} kB/s")
    print(f"  store growth           {per_day / 2**20:6.1f} MiB/day, "
          f"{per_day / TARGETS / 2**20:.2f} MiB per target per day")
    for error, count in errors:
        print(f"  error x{count}: {error[:150]}")
    assert runs > 0
