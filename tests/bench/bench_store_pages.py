"""Page data times on a store holding 30 days of history for 100 targets.

Run: make bench PYTEST_ARGS="-k store_pages"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_store_pages.py)

The history is written server-side (generate_series) in the collector's row shapes, at one
sample per SAMPLE_SECONDS (default 300 s, a twentieth of the 15 s gauges' density, so it
fits this machine; KASHO_OPS_BENCH_SAMPLE_SECONDS=60 for more) for every target: 4
connections rows, 3 database_size and database_stats rows, 1 connection_limits row and 12
collector_runs per sample; query_stats rollups for 20 statements per target per hour and
day. Each page's reads for one target (and the Kasho Ops page's, over all targets) run
without the cache, three times; the median is printed with the rows each table holds.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import streamlit as st

from collectors.core.config import parse_config
from collectors.core.redact import Secret
from collectors.migrate import MigrationRunner
from dashboard.core.context import bucket_seconds
from dashboard.features.connections import data as connections
from dashboard.features.kasho_ops import data as kasho_ops
from dashboard.features.overview import data as overview
from dashboard.features.queries import data as queries
from tests.integration.activity_setup import own_cluster

logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
pytestmark = [pytest.mark.bench, pytest.mark.timeout(1800)]
TARGETS = 100
DAYS = 30
SAMPLE_SECONDS = int(os.environ.get("KASHO_OPS_BENCH_SAMPLE_SECONDS", "300"))
STATEMENTS = 20
GROUPS = 12

FILL = {
    "connections": """
        INSERT INTO kasho_ops.connections
        SELECT ts, 't' || t, 'kasho', 'app', 'api', '127.0.2.' || s, st,
               (5 + (t + s) %% 7)::int, 0, 1.5
        FROM generate_series(%(start)s::timestamptz, %(end)s, %(step)s) ts,
             generate_series(1, %(targets)s) t, generate_series(1, 2) s,
             unnest(ARRAY['active', 'idle']) st""",
    "database_size": """
        INSERT INTO kasho_ops.database_size
        SELECT ts, 't' || t, d, 1e9::bigint + extract(epoch FROM ts)::bigint
        FROM generate_series(%(start)s::timestamptz, %(end)s, %(step)s) ts,
             generate_series(1, %(targets)s) t, unnest(ARRAY['kasho', 'postgres', 'rep']) d""",
    "connection_limits": """
        INSERT INTO kasho_ops.connection_limits
        SELECT ts, 't' || t, 100, 3, 20 FROM generate_series(%(start)s::timestamptz, %(end)s,
               %(step)s) ts, generate_series(1, %(targets)s) t""",
    "database_stats": """
        INSERT INTO kasho_ops.database_stats
        SELECT ts, 't' || t, %(seconds)s, d, 5, 900, 3, 40, 9000, 1, 1, 1, 1, 1, 0, 0, 0, 0,
               0.5, 0.1, NULL
        FROM generate_series(%(start)s::timestamptz, %(end)s, %(step)s) ts,
             generate_series(1, %(targets)s) t, unnest(ARRAY['kasho', 'postgres', 'rep']) d""",
    "collector_runs": """
        INSERT INTO kasho_ops.collector_runs
        SELECT ts, 't' || t, 'group_' || g, 2 + (t + g) %% 9, 4, NULL, 'bench', (t %% 50)::float8
        FROM generate_series(%(start)s::timestamptz, %(end)s, %(step)s) ts,
             generate_series(1, %(targets)s) t, generate_series(1, %(groups)s) g""",
    "query_stats_hourly": """
        INSERT INTO kasho_ops.query_stats_hourly
        SELECT h, 't' || t, q, 1, 10, 60, 600, 900.0, 3000.0, 0, 0.0, 600, 9000, 20, 1, 1,
               0, 0, 0.1, 0.1, 5, 500, true
        FROM generate_series(date_trunc('hour', %(start)s::timestamptz), %(end)s,
                             interval '1 hour') h,
             generate_series(1, %(targets)s) t, generate_series(1, %(statements)s) q""",
    "query_stats_daily": """
        INSERT INTO kasho_ops.query_stats_daily
        SELECT d, 't' || t, q, 1, 10, 1440, 14400, 21600.0, 72000.0, 0, 0.0, 14400, 216000,
               480, 24, 24, 0, 0, 2.4, 2.4, 120, 12000, true
        FROM generate_series(date_trunc('day', %(start)s::timestamptz), %(end)s,
                             interval '1 day') d,
             generate_series(1, %(targets)s) t, generate_series(1, %(statements)s) q""",
    "query_load_hourly": """
        INSERT INTO kasho_ops.query_load_hourly
        SELECT h, 't' || t, 1200, 18000.0
        FROM generate_series(date_trunc('hour', %(start)s::timestamptz), %(end)s,
                             interval '1 hour') h, generate_series(1, %(targets)s) t""",
}


@pytest.fixture(scope="module")
def history() -> Iterator[tuple[str, datetime]]:
    with own_cluster() as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE store")
        dsn = cluster.dsn("store")
        MigrationRunner(dsn, "monitoring").up()
        now = datetime.now(UTC).replace(microsecond=0)
        start = now - timedelta(days=DAYS)
        params = {"start": start, "end": now, "step": timedelta(seconds=SAMPLE_SECONDS),
                  "seconds": float(SAMPLE_SECONDS), "targets": TARGETS,
                  "statements": STATEMENTS, "groups": GROUPS}
        clock = time.perf_counter()
        with psycopg.connect(dsn, autocommit=True) as conn:
            for table in FILL:
                for day in range(DAYS + 2):
                    conn.execute("SELECT kasho_ops.ensure_partition(%s, %s)",
                                 [table, (start + timedelta(days=day)).date()])
            for statement in FILL.values():
                conn.execute(statement, params)  # type: ignore[arg-type]
            conn.execute("VACUUM ANALYZE")
            counts = {t: conn.execute(f"SELECT count(*) FROM kasho_ops.{t}").fetchone()[0]  # type: ignore[index]
                      for t in FILL}
            size = conn.execute("SELECT pg_size_pretty(pg_database_size('store'))").fetchone()
        print(f"\nhistory: {DAYS} days x {TARGETS} targets, one sample per {SAMPLE_SECONDS} s, "
              f"written in {time.perf_counter() - clock:.0f} s, store {size[0] if size else '?'}")
        for table, count in counts.items():
            print(f"  {table:<20} {count:>12,} rows")
        yield dsn, now


def median_ms(call: Callable[[], Any], repeat: int = 3) -> float:
    walls = []
    for _ in range(repeat):
        st.cache_data.clear()
        clock = time.perf_counter()
        call()
        walls.append((time.perf_counter() - clock) * 1000)
    return statistics.median(walls)


def test_page_data_times_with_30_days_for_100_targets(history: tuple[str, datetime]) -> None:
    dsn_text, now = history
    dsn = Secret(dsn_text)
    config = parse_config({"store": {"dsn": dsn_text}}, environ={})
    target = "t42"
    print(f"\npage data for target {target} (reads without the cache, median of 3)")
    for label, days in (("24 hours", 1), ("7 days", 7), ("30 days", 30)):
        start = now - timedelta(days=days)
        range_key = {1: "24h", 7: "7d", 30: "30d"}[days]
        bucket = bucket_seconds(range_key)
        window = queries.plan_window(start, now)
        runs_start = max(start, now - timedelta(hours=24))  # the page's runs window
        reads: dict[str, Callable[[], Any]] = {
            "Overview": lambda s=start, b=bucket: (
                overview.database_sizes(dsn, target, s, now, b),
                overview.connections_by_state(dsn, target, s, now, b),
                overview.connection_limits(dsn, target, s, now, b),
                overview.database_stats(dsn, target, s, now, b)),
            "Connections": lambda s=start, b=bucket: (
                connections.connections_by(dsn, target, s, now, b, "state"),
                connections.latest_limits(dsn, target, s, now),
                connections.latest_connections(dsn, target, s, now),
                connections.session_ages(dsn, target, s, now, b)),
            "Queries (totals, load)": lambda w=window: (
                queries.statement_totals(dsn, target, w), queries.load_totals(dsn, target, w)),
            # The page reads runs of at most the last 24 hours, whatever the range.
            "Kasho Ops (all targets)": lambda s=runs_start, b=bucket: (
                kasho_ops.run_stats(dsn, s, now), kasho_ops.run_history(dsn, s, now, min(b, 900)),
                kasho_ops.recent_errors(dsn, s, now), kasho_ops.collectors(dsn),
                kasho_ops.partition_sizes(dsn), kasho_ops.unpartitioned_bytes(dsn)),
        }
        for page, call in reads.items():
            print(f"  {label:<9} {page:<26} {median_ms(call):8.0f} ms")
    assert config.store.retention_for("query_stats") == 3
