"""Collection cost of the storage, maintenance and index groups on a big schema, against the
bare catalog queries they stand on, in the same run on the same server; then the Storage,
Maintenance and Indexes pages' data load over 7 days of history.

Run: make bench PYTEST_ARGS="-k storage"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_storage.py)

The target (a cluster of its own) has 10,000 tables in 10 schemas, each with a primary key
and a second index (20,000 indexes, 10,000 TOAST tables): 1 to 50 rows each, a few hundred
written, scanned sequentially, updated into dead rows or left unanalyzed by different
tables, so each ranking of table_stats picks different ones (the hard case for the top-N
union). Each query runs REPEAT times, each in its own transaction, on one monitoring session
(pg_monitor); wall time is the median, server CPU the backend's utime + stime from /proc
(10 ms ticks, summed over the runs). The store is another cluster.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.core.connections import monitoring_connect_kwargs
from collectors.core.engine import Engine
from collectors.core.metric_groups import load_catalog
from collectors.core.redact import Secret
from collectors.core.sql_parameters import bind
from collectors.core.store import MetricStore
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.activity_setup import own_cluster
from tests.integration.storage_setup import STORAGE_GROUPS, storage_config
from tests.storage_history import seed_history_before

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]
TABLES, SCHEMAS = 10_000, 10
REPEAT = 5
HISTORY_DAYS = 7
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# What each group would read if it just read the catalog views it stands on, whole.
BARE: dict[str, tuple[str, ...]] = {
    "table_stats": ("SELECT * FROM pg_stat_user_tables s JOIN pg_statio_user_tables io "
                    "USING (relid)",),
    "index_stats": ("SELECT * FROM pg_stat_user_indexes s JOIN pg_statio_user_indexes io "
                    "USING (indexrelid)",),
    "relation_summary": ("SELECT * FROM pg_stat_user_tables",
                         "SELECT * FROM pg_stat_user_indexes"),
    "schema_size": ("SELECT pg_total_relation_size(oid) FROM pg_class "
                    "WHERE relkind IN ('r', 'm')",),
    "bloat_estimate": ("SELECT oid, relpages, reltuples FROM pg_class",
                       "SELECT attrelid, attnum, atttypid FROM pg_attribute",
                       "SELECT schemaname, tablename, attname, null_frac, avg_width "
                       "FROM pg_stats"),
    "disk_usage": ("SELECT pg_tablespace_size(oid) FROM pg_tablespace",
                   "SELECT * FROM pg_ls_waldir()"),
    "disk_capacity": ("SELECT current_setting('data_directory')",),
    "buffer_cache": ("SELECT * FROM pg_buffercache",),
    "maintenance_progress": ("SELECT * FROM pg_stat_progress_vacuum",
                             "SELECT * FROM pg_stat_progress_analyze",
                             "SELECT * FROM pg_stat_progress_cluster",
                             "SELECT * FROM pg_stat_progress_create_index"),
    "autovacuum_status": ("SELECT * FROM pg_stat_activity",),
    "database_wraparound": ("SELECT * FROM pg_database",),
    "xmin_horizon": ("SELECT * FROM pg_stat_activity", "SELECT * FROM pg_prepared_xacts",
                     "SELECT * FROM pg_replication_slots", "SELECT * FROM pg_stat_replication"),
    "extensions": ("SELECT * FROM pg_available_extensions",),
    "database_size": ("SELECT pg_database_size(oid) FROM pg_database",),
}


def backend_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def build_big_schema(dsn: str) -> None:
    """10,000 tables x (primary key + one index), 1-50 rows each; then activity that makes
    the rankings differ: writes, dead rows, sequential scans, one ANALYZE of a third."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_buffercache")
        for s in range(SCHEMAS):
            conn.execute(f"CREATE SCHEMA app_{s}")
        for block in range(0, TABLES, 100):
            conn.execute(f"""
                DO $$ BEGIN FOR n IN {block}..{block + 99} LOOP EXECUTE format(
                  'CREATE TABLE app_%1$s.t_%2$s (id bigint PRIMARY KEY, account_id bigint,
                       note text, created_at timestamptz);
                   CREATE INDEX ON app_%1$s.t_%2$s (account_id);
                   INSERT INTO app_%1$s.t_%2$s
                       SELECT g, g %% 7, ''n'', now() FROM generate_series(1, 1 + %2$s %% 50) g',
                  n % {SCHEMAS}, n);
                END LOOP; END $$""")
        for n in range(0, TABLES, 3):  # a third analyzed: the rest never were
            conn.execute(f"ANALYZE app_{n % SCHEMAS}.t_{n}")
        for n in range(100, 400):  # written, with dead rows
            conn.execute(f"UPDATE app_{n % SCHEMAS}.t_{n} SET note = 'm'")
        for n in range(500, 800):  # scanned sequentially
            conn.execute(f"SELECT count(*) FROM app_{n % SCHEMAS}.t_{n} WHERE note = 'x'")
        conn.execute("SELECT pg_stat_force_next_flush()")


@pytest.fixture(scope="module")
def big_server() -> Iterator[LocalCluster]:
    with own_cluster(max_locks_per_transaction="256") as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        clock = time.perf_counter()
        build_big_schema(cluster.dsn("bench"))
        print(f"\nbuilt {TABLES:,} tables x 2 indexes in {time.perf_counter() - clock:.0f} s")
        yield cluster


def timed(conn: psycopg.Connection[Any], statements: tuple[tuple[str, Any], ...]
          ) -> tuple[float, float, int]:
    """Median wall ms of REPEAT runs (each run: every statement in one transaction), server
    CPU ms per run, and the rows of the last run; after one warm-up."""
    def once() -> int:
        rows = 0
        with conn.transaction():
            for text, params in statements:
                rows += len(conn.execute(text, params).fetchall())
        return rows

    once()
    walls, rows = [], 0
    cpu_before = backend_cpu_seconds(conn.info.backend_pid)
    for _ in range(REPEAT):
        clock = time.perf_counter()
        rows = once()
        walls.append((time.perf_counter() - clock) * 1000)
    cpu = (backend_cpu_seconds(conn.info.backend_pid) - cpu_before) * 1000 / REPEAT
    return statistics.median(walls), cpu, rows


def test_storage_groups_cost_against_the_bare_catalog_queries(big_server: LocalCluster) -> None:
    with own_cluster() as store_cluster:
        MigrationRunner(store_cluster.dsn(), "monitoring").up()
        config = storage_config(store_cluster.dsn(), "bench",
                                big_server.dsn("bench", MONITOR_ROLE), host_filesystem=True,
                                disk_capacity_bytes=50 * 2**30)
        target, catalog = config.targets[0], load_catalog()
        lines = [f"{TABLES:,} tables, {2 * TABLES:,} indexes, top_tables "
                 f"{config.collector.top_tables}, PostgreSQL 15, {REPEAT} runs each; "
                 "wall = median ms, cpu = server backend ms per run",
                 f"{'group':<22} {'rows':>6} {'wall':>8} {'cpu':>7} | {'bare rows':>9} "
                 f"{'wall':>8} {'cpu':>7} | {'x wall':>6} {'x cpu':>6}"]
        with psycopg.connect(**monitoring_connect_kwargs(target, config.collector),
                             autocommit=True) as conn:
            conn.execute("SET statement_timeout = 120000")
            major = conn.info.server_version // 10000
            for name in (*STORAGE_GROUPS,):
                group = catalog[name]
                own = ((group.sql_for(major), bind(group.parameters, target, config.collector)),)
                wall, cpu, rows = timed(conn, own)
                bare = tuple((text, None) for text in BARE[name])
                bare_wall, bare_cpu, bare_rows = timed(conn, bare)
                # CPU is counted in 10 ms ticks: below one tick per run there is no ratio
                cpu_ratio = (f"{cpu / bare_cpu:>6.2f}" if bare_cpu >= 1000 / CLOCK_TICKS
                             else f"{'—':>6}")
                lines.append(f"{name:<22} {rows:>6} {wall:>8.1f} {cpu:>7.1f} | {bare_rows:>9} "
                             f"{bare_wall:>8.1f} {bare_cpu:>7.1f} | {wall / bare_wall:>6.2f} "
                             f"{cpu_ratio}")

        store = MetricStore(config.store.dsn, confirm_writes=True)
        store.open()
        engine = Engine(config.collector, store)
        try:
            lines.append(f"{'engine.run (+ store COPY)':<28} {'rows':>6} {'ms':>8}")
            for name in STORAGE_GROUPS:
                record = engine.run(catalog[name], target)
                assert record.error is None, record.error
                lines.append(f"  {name:<26} {record.rows_written:>6} "
                             f"{record.duration_ms:>8.1f}")
        finally:
            engine.close()
            store.close()
        report = "\n".join(lines)
        print("\n" + report)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "bench_storage_groups.txt").write_text(report + "\n")

        load = page_data_load(store_cluster.dsn(), "bench")
        print("\n" + load)
        (ARTIFACTS / "bench_storage_pages.txt").write_text(load + "\n")


def page_data_load(store_dsn: str, target: str, seed: bool = True) -> str:
    """Seed HISTORY_DAYS before the real samples, then time each page's reads (uncached)."""
    import streamlit as st

    # The page readers run here without a Streamlit server; they say so on every call.
    logging.getLogger("streamlit.runtime.caching.cache_data_api").setLevel(logging.ERROR)

    from dashboard.features.indexes import data as index_data
    from dashboard.features.indexes import logic as index_logic
    from dashboard.features.maintenance import data as maintenance_data
    from dashboard.features.maintenance import logic as maintenance_logic
    from dashboard.features.storage import data as storage_data
    from dashboard.features.storage import logic as storage_logic

    clock = time.perf_counter()
    rows = seed_history_before(store_dsn, target, days=HISTORY_DAYS) if seed else 0
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")  # what the store's autovacuum does after a bulk load
    seeded = time.perf_counter() - clock
    with psycopg.connect(store_dsn) as conn:
        counts = dict(conn.execute(
            "SELECT 'table_stats', count(*) FROM kasho_ops.table_stats UNION ALL "
            "SELECT 'index_stats', count(*) FROM kasho_ops.index_stats UNION ALL "
            "SELECT 'database_wraparound', count(*) FROM kasho_ops.database_wraparound"
        ).fetchall())
    dsn = Secret(store_dsn)
    end = datetime.now(UTC) + timedelta(seconds=30)
    start = end - timedelta(days=7)
    bucket = 7 * 86400 // 360
    pages: dict[str, list[tuple[str, Callable[[], object]]]] = {
        "Storage": [
            ("reads (one session)", lambda: storage_data.storage_reads(
                dsn, target, start, end, bucket)),
            ("logic", lambda: (storage_logic.table_sizes(storage_data.storage_reads(
                dsn, target, start, end, bucket).tables))),
        ],
        "Maintenance": [
            ("reads (one session)", lambda: maintenance_data.maintenance_reads(
                dsn, target, start, end, bucket)),
            ("audit trail", lambda: maintenance_data.measurements(dsn, target)),
            ("logic", lambda: (maintenance_logic.vacuum_table(
                maintenance_data.maintenance_reads(dsn, target, start, end, bucket).tables,
                None, end), maintenance_logic.wraparound_texts(
                maintenance_data.maintenance_reads(dsn, target, start, end, bucket)
                .forecast))),
        ],
        "Indexes": [
            ("reads (one session)", lambda: index_data.index_reads(dsn, target, start, end)),
            ("statements on a table", lambda: index_data.statements_on(
                dsn, target, start, end, "t_1")),
            ("logic", lambda: index_logic.index_findings(
                index_data.index_reads(dsn, target, start, end).indexes,
                index_logic.StatisticsAge(None, None))),
        ],
    }
    lines = [f"7 days of history: {rows:,} rows seeded in {seeded:.0f} s "
             f"(table_stats {counts['table_stats']:,}, index_stats {counts['index_stats']:,}, "
             f"database_wraparound {counts['database_wraparound']:,} rows); each page's reads "
             "uncached (st.cache_data cleared), median of 5 loads"]
    for page, reads in pages.items():
        totals, per_read = [], {name: [] for name, _ in reads}  # type: dict[str, list[float]]
        for _ in range(5):
            st.cache_data.clear()
            total = 0.0
            for name, read in reads:
                clock = time.perf_counter()
                read()
                elapsed = (time.perf_counter() - clock) * 1000
                per_read[name].append(elapsed)
                total += elapsed
            totals.append(total)
        lines.append(f"  {page:<12} {statistics.median(totals):7.0f} ms   " + ", ".join(
            f"{name} {statistics.median(times):.0f}" for name, times in per_read.items()))
    return "\n".join(lines)
