"""Cost of the business groups on Kasho histories of 1M and 10M transactions: time per run
and the server CPU it takes, and the plans (no sequential scan of transactions, for real).

Run: make bench PYTEST_ARGS="-k business"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_business.py;
  KASHO_OPS_BENCH_SIZES=1000000 for the 1M history only: seeding 10M takes a while)

Each size is its own cluster: the demo's seed (90 days; users and accounts 1/100 and 1/50 of
the transactions), VACUUM ANALYZE, the business role's grants. Every query runs REPEAT times
on one session of the business role, with the monitoring session options (read-only,
timeouts). The incremental groups are measured on the windows a collector reads: one
interval (60 s) in steady state and the widest catch-up window (2 days), ending at the
history's newest row. Server CPU is the business session's backend: /proc/<pid>/schedstat
(time on CPU), read before and after the runs. Then engine.run of every group end to end
(first run: the oldest 2-day window of the 8-day backfill, with the store COPY).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.core.connections import monitoring_connect_kwargs
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from demo.roles import grant_business_role
from demo.seed import seed
from tests.integration.activity_setup import own_cluster
from tests.integration.business_setup import (
    BUSINESS_GROUPS,
    business_config,
    business_engine,
    business_group,
)

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3 * 3600)]  # seeding 10M takes long
SIZES = tuple(int(size) for size in
              os.environ.get("KASHO_OPS_BENCH_SIZES", "1000000,10000000").split(","))
REPEAT = 10
WINDOWS = {"60 s": timedelta(seconds=60), "2 days": timedelta(days=2)}


@pytest.fixture(scope="module", params=SIZES, ids=lambda size: f"{size // 1_000_000}M")
def history(request: pytest.FixtureRequest) -> Iterator[tuple[int, LocalCluster]]:
    size: int = request.param
    with own_cluster(shared_buffers="256MB", max_wal_size="4GB") as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE kasho")
            conn.execute("CREATE DATABASE store")
        MigrationRunner(cluster.dsn("kasho"), "kasho").up()
        MigrationRunner(cluster.dsn("store"), "monitoring").up()
        started = time.monotonic()
        with psycopg.connect(cluster.dsn("kasho"), autocommit=True) as conn:
            seed(conn, users=size // 100, accounts=size // 50, transactions=size, days=90)
            conn.execute("VACUUM ANALYZE")
            grant_business_role(conn)
        print(f"\nseeded {size:,} transactions in {time.monotonic() - started:.0f} s")
        yield size, cluster


def backend_cpu_ms(pid: int) -> float:
    """CPU time the backend has used so far (ms)."""
    schedstat = Path(f"/proc/{pid}/schedstat")
    if schedstat.exists():
        return int(schedstat.read_text().split()[0]) / 1e6
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(conn: psycopg.Connection[Any], query: str,
            params: Any) -> tuple[float, float, float, int]:
    """Median and p95 wall time, mean backend CPU (ms) over REPEAT runs; and the row count."""
    rows = len(conn.execute(query, params).fetchall())  # warm-up
    pid = conn.info.backend_pid
    cpu_before = backend_cpu_ms(pid)
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        conn.execute(query, params).fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    cpu = (backend_cpu_ms(pid) - cpu_before) / REPEAT
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], cpu, rows


def transaction_scans(plan: dict[str, Any]) -> list[str]:
    own = [plan["Node Type"]] if plan.get("Relation Name") == "transactions" else []
    return own + [scan for child in plan.get("Plans", []) for scan in transaction_scans(child)]


def test_business_groups_cost_and_plans(history: tuple[int, LocalCluster]) -> None:
    size, cluster = history
    config = business_config(cluster.dsn("store"), cluster.dsn("kasho"),
                             cluster.dsn("kasho", "kasho_ops_business"))
    business = config.targets[0].business()
    assert business is not None
    results: list[tuple[str, int, float, float, float]] = []
    plans: dict[str, list[str]] = {}
    with psycopg.connect(**monitoring_connect_kwargs(business, config.collector),
                         autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        newest = conn.execute("SELECT max(created_at) FROM transactions").fetchone()[0]
        for name in BUSINESS_GROUPS:
            group = business_group(name)
            query = group.sql_for(conn.info.server_version // 10000)
            windows = WINDOWS if group.incremental else {"now": None}
            for label, width in windows.items():
                params = {"since": newest - width, "until": newest} if width else None
                median, p95, cpu, rows = measure(conn, query, params)
                results.append((f"{name} ({label})", rows, median, p95, cpu))
                plan = conn.execute("EXPLAIN (FORMAT JSON) " + query, params).fetchone()[0]
                plans[f"{name} ({label})"] = transaction_scans(plan[0]["Plan"])
    with business_engine(config) as engine:
        for name in BUSINESS_GROUPS:
            record = engine.run(business_group(name), config.targets[0])
            assert record.error is None, record.error
            results.append((f"{name} engine.run, first run", record.rows_written,
                            record.duration_ms, record.duration_ms, float("nan")))

    lines = [f"{size:,} transactions over 90 days ({size // 50:,} accounts, {size // 100:,} "
             f"users), PostgreSQL 15 on loopback, {REPEAT} runs each, load average "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
             f"{'what':<52} {'rows':>7} {'median ms':>10} {'p95 ms':>8} {'server CPU ms':>13}"]
    lines += [f"{what:<52} {rows:>7} {median:>10.1f} {p95:>8.1f} {cpu:>13.1f}"
              for what, rows, median, p95, cpu in results]
    lines += [f"plan of {what}: transactions read by {', '.join(scans) or 'no scan'}"
              for what, scans in plans.items()]
    report = "\n".join(lines)
    print("\n" + report)
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"bench_business_{size // 1_000_000}M.txt").write_text(report + "\n")
    for what, scans in plans.items():
        assert "Seq Scan" not in scans, (what, scans)
