"""Benchmark of query_stats: 5,000 distinct statements in pg_stat_statements.

Prints, for one collection cycle: wall time, the server CPU of the collector's backend against
a bare `SELECT * FROM pg_stat_statements` on the same server in the same run (from
/proc/<pid>/stat, and from pg_stat_statements' own execution time of both statements), rows
written; store bytes per day at a 60 s interval; and the Queries page's data load over 7 days
of history for 5,000 statements. Run with `make bench` or
`.venv/bin/pytest -m bench -s tests/bench/bench_query_stats.py`.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import OWN_STATEMENT_PATTERN, QUERY_MARKER
from collectors.core.redact import Secret
from collectors.core.store import Batch, MetricStore
from dashboard.features.queries import data as query_data
from dashboard.features.queries import logic as qa
from demo.cluster import LocalCluster
from tests.integration.collector_setup import make_config
from tests.pg import free_port
from tests.query_history import STAT_COLUMNS

pytestmark = pytest.mark.bench
# The page's cached readers run here without a Streamlit server; they say so on every call.
logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)
STATEMENTS = 5_000
TABLES = 100
CYCLES = 8
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HISTORY_DAYS = 7
BARE = "SELECT * FROM pg_stat_statements"
ROLLUPS = ("query_stats_hourly", "query_stats_daily", "query_load_hourly")


def table_bytes(conn: psycopg.Connection, parent: str) -> int:
    """Heap, TOAST and indexes of every partition of kasho_ops.<parent>."""
    (size,) = conn.execute(
        "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::bigint FROM pg_inherits i "
        "WHERE i.inhparent = %s::regclass", [f"kasho_ops.{parent}"]).fetchone()
    return int(size)


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def statement_texts() -> list[str]:
    """5,000 structurally distinct statements (constants would normalize away)."""
    texts = []
    shapes = [f"c{a}" for a in range(10)] + [f"c{a}, c{b}" for a in range(10)
                                             for b in range(a + 1, 10)]
    for table in range(TABLES):
        for columns in shapes[:STATEMENTS // TABLES]:
            texts.append(f"SELECT {columns} FROM bench_t{table} WHERE id = $1")
    return texts


@pytest.fixture(scope="module")
def target_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path_factory.mktemp("bench") / "target", free_port(),
                           settings={"pg_stat_statements.max": "6000",
                                     "pg_stat_statements.track": "'top'"})
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon")
        conn.execute("CREATE EXTENSION pg_stat_statements")
        columns = ", ".join(f"c{i} int" for i in range(10))
        for table in range(TABLES):
            conn.execute(f"CREATE TABLE bench_t{table} (id int PRIMARY KEY, {columns})")
            conn.execute(f"INSERT INTO bench_t{table} SELECT g, g, g, g, g, g, g, g, g, g, g "
                         "FROM generate_series(1, 100) g")
    yield cluster
    cluster.destroy()


def run_every_statement(dsn: str, texts: list[str]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.pipeline():
        for text in texts:
            conn.execute(text.replace("$1", "%s"), [7], prepare=False)


def test_collection_cycle_cost(target_cluster: LocalCluster, fresh_store: str) -> None:
    from collectors.core.engine import Engine

    texts = statement_texts()
    run_every_statement(target_cluster.dsn(), texts)
    with psycopg.connect(target_cluster.dsn()) as conn:
        in_view = conn.execute("SELECT count(*) FROM pg_stat_statements").fetchone()[0]
    assert in_view >= STATEMENTS
    config = make_config(fresh_store, {"bench": target_cluster.dsn("postgres", "mon")})
    store = MetricStore(config.store.dsn)
    store.open()
    engine = Engine(config.collector, store)
    group, target = load_catalog()["query_stats"], config.targets[0]
    bare = psycopg.connect(target_cluster.dsn("postgres", "mon"), autocommit=True)
    try:
        assert engine.run(group, target).error is None  # the baseline
        with psycopg.connect(target_cluster.dsn()) as conn:
            (collector_pid,) = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'kasho-ops'"
            ).fetchone()
        walls, cpus, bare_walls, bare_cpus, rows = [], [], [], [], []
        for cycle in range(CYCLES):
            run_every_statement(target_cluster.dsn(), texts)
            before = backend_cpu_seconds(collector_pid)
            record = engine.run(group, target)
            cpus.append(backend_cpu_seconds(collector_pid) - before)
            assert record.error is None, record.error
            walls.append(record.duration_ms)
            rows.append(record.rows_written)
            before, clock = backend_cpu_seconds(bare.info.backend_pid), time.perf_counter()
            bare.execute(BARE).fetchall()
            bare_walls.append((time.perf_counter() - clock) * 1000)
            bare_cpus.append(backend_cpu_seconds(bare.info.backend_pid) - before)
            if cycle == 0:
                first_cycle_ms = record.duration_ms
        with psycopg.connect(target_cluster.dsn()) as conn:
            server_ms = dict(conn.execute(
                "SELECT CASE WHEN query ~ %s THEN 'collector' ELSE 'bare' "
                "END, sum(total_exec_time) / sum(calls) FROM pg_stat_statements "
                "WHERE query LIKE %s OR query = %s GROUP BY 1",
                [OWN_STATEMENT_PATTERN, f"SELECT {QUERY_MARKER} -- query_stats,%", BARE]
            ).fetchall())
        steady = walls[1:]
        with psycopg.connect(fresh_store, autocommit=True) as conn:
            (raw_count,) = conn.execute("SELECT count(*) FROM kasho_ops.query_stats").fetchone()
            raw_bytes = table_bytes(conn, "query_stats")
            rollup_before = sum(table_bytes(conn, t) for t in ROLLUPS)
            for table in ROLLUPS:
                conn.execute(f"VACUUM FULL kasho_ops.{table}")
            rollup_rows = {t: conn.execute(f"SELECT count(*) FROM kasho_ops.{t}").fetchone()[0]
                           for t in ROLLUPS}
            rollup_row_bytes = {t: table_bytes(conn, t) / max(rollup_rows[t], 1)
                                for t in ROLLUPS}
            (text_bytes,) = conn.execute(
                "SELECT pg_total_relation_size('kasho_ops.query_texts')").fetchone()
        per_row = raw_bytes / raw_count
        rows_per_day = {"query_stats_hourly": 24 * STATEMENTS, "query_stats_daily": STATEMENTS,
                        "query_load_hourly": 24}
        rollup_per_day = sum(rollup_row_bytes[t] * n for t, n in rows_per_day.items())
        print(f"\nquery_stats, {STATEMENTS} statements in pg_stat_statements ({in_view} rows), "
              f"all {STATEMENTS} run in every interval, {CYCLES} cycles")
        print(f"  cycle wall time: first {first_cycle_ms:.0f} ms (writes {STATEMENTS} texts), "
              f"then median {statistics.median(steady):.0f} ms "
              f"(min {min(steady):.0f}, max {max(steady):.0f})")
        print(f"  bare SELECT * FROM pg_stat_statements: median "
              f"{statistics.median(bare_walls):.0f} ms wall")
        print(f"  server CPU per cycle (/proc utime+stime, {1000 / CLOCK_TICKS:.0f} ms ticks): "
              f"collector {1000 * statistics.mean(cpus):.0f} ms, "
              f"bare SELECT {1000 * statistics.mean(bare_cpus):.0f} ms, ratio "
              f"{statistics.mean(cpus) / max(statistics.mean(bare_cpus), 1e-9):.2f}")
        print(f"  server execution time per call (pg_stat_statements): collector "
              f"{server_ms['collector']:.1f} ms, bare {server_ms['bare']:.1f} ms, ratio "
              f"{server_ms['collector'] / server_ms['bare']:.2f}")
        print(f"  rows written per cycle: {statistics.median(rows):.0f} "
              f"(+ {STATEMENTS} text rows once, {text_bytes / 1024:.0f} kB)")
        print(f"  store: {per_row:.0f} bytes per query_stats row with its indexes; at 60 s "
              f"with every statement running every minute: "
              f"{per_row * statistics.median(rows) * 1440 / 2**20:.0f} MB/day per-interval rows "
              f"+ {rollup_per_day / 2**20:.1f} MB/day rollups when vacuumed ("
              f"{rollup_before / 2**20:.1f} MB before VACUUM after {CYCLES} cycles: upserts); "
              "idle statements store nothing")
        assert sum(rows) == raw_count
    finally:
        bare.close()
        engine.close()
        store.close()


def seed_week(store_dsn: str, target: str, now: datetime, active_per_minute: int) -> int:
    """7 days for 5,000 statements: every statement in every hour of the hourly rollup (what
    the trigger would have summed), and per-interval rows for the partial hours at the
    window's edges with `active_per_minute` statements per interval."""
    start = now - timedelta(days=HISTORY_DAYS)
    hourly_columns = ("hour", "target", "queryid", "dbid", "userid", "toplevel", "samples",
                      *qa.COUNTERS)
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        day = start.date()
        while day <= now.date():
            for table in ("query_stats_hourly", "query_stats_daily", "query_load_hourly"):
                conn.execute("SELECT kasho_ops.ensure_partition(%s, %s)", [table, day])
            day += timedelta(days=1)
        first_hour = datetime.fromtimestamp((start.timestamp() // 3600 + 1) * 3600, tz=UTC)
        last_hour = datetime.fromtimestamp(now.timestamp() // 3600 * 3600, tz=UTC)
        with conn.cursor().copy(psycopg.sql.SQL("COPY kasho_ops.query_stats_hourly ({}) "
                                                "FROM STDIN").format(psycopg.sql.SQL(", ").join(
                map(psycopg.sql.Identifier, hourly_columns)))) as copy:
            hour = first_hour
            while hour < last_hour:
                for q in range(STATEMENTS):
                    calls = 60 + q % 600
                    mean = 0.05 + (q % 97) / 10
                    copy.write_row((hour, target, 1_000_000 + q, 16384, 10, True, 60, calls,
                                    calls * mean, calls * mean * mean * 1.1, calls,
                                    calls * 0.01, calls * 3, calls * 30, calls, 0, 0, 0, 0,
                                    0.0, 0.0, 0, 0))
                hour += timedelta(hours=1)
        sums = ", ".join(f"sum({c})" for c in ("samples", *qa.COUNTERS))
        conn.execute(f"INSERT INTO kasho_ops.query_stats_daily (day, target, queryid, dbid, "
                     f"userid, toplevel, samples, {', '.join(qa.COUNTERS)}) "
                     f"SELECT date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', "
                     f"target, queryid, dbid, userid, toplevel, {sums} "
                     "FROM kasho_ops.query_stats_hourly GROUP BY 1, 2, 3, 4, 5, 6")
        conn.execute("INSERT INTO kasho_ops.query_load_hourly SELECT hour, target, sum(calls), "
                     "sum(total_exec_time_ms) FROM kasho_ops.query_stats_hourly "
                     "WHERE toplevel GROUP BY 1, 2")
        conn.execute("INSERT INTO kasho_ops.query_texts SELECT %s, 1000000 + q, 16384, 10, "
                     "%s, 'kasho', 'kasho_app', 'SELECT c1, c2 FROM bench_t' || q || "
                     "' WHERE id = $1' FROM generate_series(0, %s) q",
                     [target, start, STATEMENTS - 1])
    store = MetricStore(Secret(store_dsn))
    store.open()
    edges = [*_minutes(start, first_hour), *_minutes(last_hour, now)]
    written = 0
    try:
        for t in edges:
            rows = tuple((t, target, 60.0, 1_000_000 + (q * 7919 + int(t.timestamp()) // 60)
                          % STATEMENTS, 16384, 10, True, 5, 5.0, 6.0, 5, 0.1, 15, 150, 5,
                          0, 0, 0, 0, 0.0, 0.0, 0, 0, None) for q in range(active_per_minute))
            store.write_now([Batch("query_stats", STAT_COLUMNS, rows, t.date())])
            written += len(rows)
    finally:
        store.close()
    with psycopg.connect(store_dsn, autocommit=True) as conn:  # as autovacuum would have
        for table in ("query_stats_hourly", "query_stats_daily", "query_load_hourly",
                      "query_stats", "query_texts"):
            conn.execute(f"VACUUM ANALYZE kasho_ops.{table}")
    return written


def _minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    t = start + timedelta(seconds=60)
    while t <= end:
        yield t
        t += timedelta(seconds=60)


def page_data_load(store_dsn: str, target: str, now: datetime) -> dict[str, float]:
    """What the Queries page reads for a 7-day range, timed per read, without the cache."""
    import streamlit as st

    st.cache_data.clear()
    dsn = Secret(store_dsn)
    start = now - timedelta(days=HISTORY_DAYS)
    timings: dict[str, float] = {}

    def timed(name: str, call):
        clock = time.perf_counter()
        result = call()
        timings[name] = (time.perf_counter() - clock) * 1000
        return result

    window = query_data.plan_window(start, now, 60)
    rule = qa.RegressionRule()
    reads = timed("overview reads (totals, load, regressions, evictions at once)",
                  lambda: query_data.overview_reads(
                      dsn, target, window, query_data.recent_hours(now, timedelta(hours=1)), 7,
                      rule.factor, rule.min_calls))
    top = timed("ranking", lambda: qa.rank_statements(qa.statement_figures(reads.totals),
                                                      "total_time", 25))
    keys = tuple(dict.fromkeys((int(r.queryid), int(r.dbid), int(r.userid), bool(r.toplevel))
                               for r in top.itertuples()))
    timed("top-25 series", lambda: query_data.statement_series(
        dsn, target, window, keys, query_data.SPARKLINE_COLUMNS))
    timed("texts of the top 25", lambda: qa.with_previews(top, query_data.statement_previews(
        dsn, target, tuple(k[:3] for k in keys))))
    timed("find regressions", lambda: qa.find_regressions(
        qa.recent_windows(reads.regression_hours, rule), rule))
    timings["total"] = sum(timings.values())
    return timings


@pytest.mark.parametrize("active_per_minute", [500, STATEMENTS])
def test_queries_page_loads_seven_days_of_five_thousand_statements(
        fresh_store: str, active_per_minute: int) -> None:
    target = "bench"
    now = datetime.now(UTC)
    edge_rows = seed_week(fresh_store, target, now, active_per_minute)
    runs = [page_data_load(fresh_store, target, now) for _ in range(5)]
    best = min(runs, key=lambda r: r["total"])
    median_total = statistics.median(r["total"] for r in runs)
    with psycopg.connect(fresh_store) as conn:
        (hourly,) = conn.execute("SELECT count(*) FROM kasho_ops.query_stats_hourly").fetchone()
    print(f"\nQueries page data, 7 days x {STATEMENTS} statements: {hourly} hourly rows, "
          f"{edge_rows} per-interval rows at the edges ({active_per_minute} statements per "
          f"interval): median {median_total:.0f} ms over {len(runs)} loads; best: " +
          ", ".join(f"{k} {v:.0f} ms" for k, v in best.items()))
