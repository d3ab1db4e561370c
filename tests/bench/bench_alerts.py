"""What alerting costs: one evaluation of every rule of a target against a store holding a
day of history for 1,000 statements (the statement-regression rule is the heavy one), and
one /metrics render with 1,000 statements and every other group in memory.

Run: make bench PYTEST_ARGS="-k alerts"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_alerts.py)

The store gets 24 hours of query_stats for 1,000 statements at one sample every 5 minutes
(288,000 rows; the hourly rollup follows through its trigger) and the last 10 minutes at one
sample a minute, a connection_limits and lock_waits sample and run records for every group.
Each measurement repeats REPEAT times and prints the median and the slowest.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import load_rules
from collectors.alerts.settings import AlertSettings
from collectors.backups.jobs import STATES_GROUP
from collectors.core.baselines import BaselineUpdate
from collectors.core.config import Target
from collectors.core.deltas import Baseline, SeriesState
from collectors.core.engine import GroupRows
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import Secret
from collectors.core.store import MetricStore, RunRecord
from collectors.exporters.prometheus import LatestValues
from tests.pg import copy_into_store

pytestmark = [pytest.mark.bench, pytest.mark.single_major]
STATEMENTS = 1000
REPEAT = 7
TARGET = "kasho-primary"
COLUMNS = ("collected_at", "target", "interval_seconds", "queryid", "dbid", "userid", "calls",
           "total_exec_time_ms", "exec_time_squares_ms2", "plans", "total_plan_time_ms", "rows",
           "shared_blks_hit", "shared_blks_read", "shared_blks_dirtied", "shared_blks_written",
           "temp_blks_read", "temp_blks_written", "blk_read_time_ms", "blk_write_time_ms",
           "wal_records", "wal_bytes", "stats_since", "toplevel")


def measure(what: str, action: Callable[[], object]) -> None:
    times = []
    for _ in range(REPEAT):
        clock = time.perf_counter()
        action()
        times.append((time.perf_counter() - clock) * 1000)
    print(f"{what:<58} median {statistics.median(times):8.1f} ms   max {max(times):8.1f} ms")


def seed(store_dsn: str, now: datetime) -> None:
    rng = random.Random(3)
    rows = []
    samples = [now - timedelta(minutes=m) for m in range(24 * 60, 10, -5)]
    samples += [now - timedelta(minutes=m) for m in range(10, 0, -1)]
    for at in samples:
        for q in range(1, STATEMENTS + 1):
            calls = rng.randint(20, 200)
            slow = 6.0 if q % 100 == 0 and at > now - timedelta(minutes=15) else 1.0
            rows.append((at, TARGET, 60.0, q, 1, 10, calls, calls * rng.uniform(1, 3) * slow,
                         0.0, 0, 0.0, calls, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0, 0, None, True))
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        for start in range(0, len(rows), 50_000):
            copy_into_store(conn, "query_stats", COLUMNS, rows[start:start + 50_000])
        copy_into_store(conn, "connection_limits", ("collected_at", "target", "max_connections",
                                                    "reserved_connections",
                                                    "client_connections"),
                        [(now, TARGET, 200, 3, 150)])
        runs = [(now - timedelta(seconds=s), TARGET, g, 5.0, 1)
                for g in [*load_catalog(), STATES_GROUP] for s in (5, 65)]
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written"), runs)
        conn.execute("ANALYZE")


def test_evaluation_and_metrics_cost(fresh_store: str) -> None:
    now = datetime.now(UTC)
    clock = time.perf_counter()
    seed(fresh_store, now)
    print(f"\nseeded {STATEMENTS} statements x {24 * 12 + 10} samples in "
          f"{time.perf_counter() - clock:.0f} s")
    catalog = load_catalog()
    intervals = {name: group.interval_seconds for name, group in catalog.items()}
    intervals[STATES_GROUP] = 60  # the backups jobs' recovery states (rules judged_by them)
    rules = load_rules()
    store = MetricStore(Secret(fresh_store))
    store.open()
    try:
        evaluator = Evaluator(AlertSettings(), store, intervals, rules=rules)
        regression = [rules["statement_regression"]]
        first = evaluator.evaluate(TARGET, regression)
        firing = [c for c in first.changes if c.kind == "open"]
        print(f"statement_regression opened {len(firing)} alerts (10 statements slowed 6x)")
        assert len(firing) == 10
        measure("evaluate statement_regression (1,000 statements, 24 h)",
                lambda: evaluator.evaluate(TARGET, regression))
        every = evaluator.evaluate(TARGET)
        assert not every.errors and not every.skipped, (every.errors, every.skipped)
        measure(f"evaluate every rule of the target ({len(evaluator.rules)} rules)",
                lambda: evaluator.evaluate(TARGET))
    finally:
        store.close()

    latest = LatestValues()
    query_stats = catalog["query_stats"]
    target = Target(TARGET, Secret("host=x"))
    series = {(q, 1, 10, True): SeriesState(None, tuple(float(q) for _ in query_stats.counters))
              for q in range(STATEMENTS)}
    update = BaselineUpdate(TARGET, "query_stats", None,
                            Baseline(now, now, query_stats.counters, series), {}, [], True)
    latest.observe(query_stats, target, GroupRows([], 15, baseline=update),
                   RunRecord(now, TARGET, "query_stats", 5.0, 0, None))
    for name in ("connections", "connection_limits", "database_size"):
        latest.observe(catalog[name], target, GroupRows([], 15),
                       RunRecord(now, TARGET, name, 5.0, 0, None))
    text = latest.render()
    print(f"/metrics: {len(text.splitlines())} lines, {len(text) / 1024:.0f} kB")
    measure("render /metrics (1,000 statements in memory, top 100 kept)", latest.render)
