"""Collection cost of the storage, maintenance and index groups on a big schema, against the
bare catalog queries they stand on, in the same run on the same server; then the Storage,
Maintenance and Indexes pages' data load over 7 days of history.

Run: make bench PYTEST_ARGS="-k storage"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider tests/bench/bench_storage.py)

The target (a cluster of its own) has 10,000 tables in 10 schemas, each with a primary key
and a second index (20,000 indexes, 10,000 TOAST tables): 1 to 50 rows each, a few hundred
written, scanned sequentially, updated into dead rows or left unanalyzed by different
tables, so each ranking of table_stats picks different ones (the hard case for the top-N
union). bloat_estimate skips relations under 1 MB, so its hard case is another BIG_TABLES
tables in schema `big`, each a heap and a text index over 1 MB with a third of the rows
deleted and vacuumed (bloat to find), ANALYZEd (pg_stats populated), half of them readable
by the monitoring role (estimated) and half not (suppressed, with the reason).

Each query runs REPEAT times, each in its own transaction, on one monitoring session
(pg_monitor), the group's runs interleaved with the bare reads' so both see the same load;
wall time is the median, server CPU the backend's time on a CPU from /proc/<pid>/schedstat
(nanoseconds; utime + stime in 10 ms ticks where the kernel has no schedstat), per run.
engine.run is then timed twice per group, on a new engine: the first run's session has never
opened the relations (PostgreSQL builds a relation cache entry for each on first use), the
second is warm, as the bare-vs-group runs above are. The store is another cluster.
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
BIG_TABLES, BIG_ROWS = 100, 5_200  # heap ~160 pages and text index ~170: both over 128
REPEAT = 7
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


# The groups whose reads grow with the schema (every relation, or every shared buffer): the
# 1.5x goal is theirs. The others read a handful of rows, where planning a CTE costs more than
# the bare read's whole run (both well under 2 ms).
CATALOG_WIDE = frozenset({"disk_usage", "database_size", "schema_size", "table_stats",
                          "index_stats", "relation_summary", "bloat_estimate", "buffer_cache"})


def backend_cpu_seconds(pid: int) -> float:
    """Time the backend has spent on a CPU: schedstat's nanoseconds, else /proc's ticks."""
    schedstat = Path(f"/proc/{pid}/schedstat")
    if schedstat.exists():
        return int(schedstat.read_text().split()[0]) / 1e9
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_resolution_ms(pid: int) -> float:
    return 1e-6 if Path(f"/proc/{pid}/schedstat").exists() else 1000 / CLOCK_TICKS


def load_average() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


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


def build_big_tables(dsn: str) -> None:
    """BIG_TABLES tables over bloat_estimate's 1 MB threshold (heap and a text index), a
    third of their rows deleted and vacuumed away (the pages stay: bloat), then ANALYZEd;
    the even ones readable by the monitoring role, so pg_stats shows it their columns."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA big")
        conn.execute(f"GRANT USAGE ON SCHEMA big TO {MONITOR_ROLE}")
        for n in range(BIG_TABLES):
            conn.execute(f"""
                CREATE TABLE big.b_{n} (id bigint PRIMARY KEY, account_id bigint,
                                        note text, created_at timestamptz);
                INSERT INTO big.b_{n} SELECT g, g % 97, repeat(md5(g::text), 6) || g, now()
                FROM generate_series(1, {BIG_ROWS}) g;
                CREATE INDEX ON big.b_{n} (note);
                DELETE FROM big.b_{n} WHERE id % 3 = 0""")
            if n % 2 == 0:
                conn.execute(f"GRANT SELECT ON big.b_{n} TO {MONITOR_ROLE}")
        for n in range(BIG_TABLES):
            conn.execute(f"VACUUM (ANALYZE) big.b_{n}")
        conn.execute("SELECT pg_stat_force_next_flush()")


@pytest.fixture(scope="module")
def big_server() -> Iterator[LocalCluster]:
    with own_cluster(max_locks_per_transaction="256") as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench")
        clock = time.perf_counter()
        build_big_schema(cluster.dsn("bench"))
        build_big_tables(cluster.dsn("bench"))
        print(f"\nbuilt {TABLES:,} tables x 2 indexes and {BIG_TABLES} over 1 MB in "
              f"{time.perf_counter() - clock:.0f} s")
        yield cluster


Statements = tuple[tuple[str, Any], ...]


def timed(conn: psycopg.Connection[Any], *sides: Statements
          ) -> list[tuple[float, float, int]]:
    """For each side: median wall ms of REPEAT runs (each run: every statement in one
    transaction), server CPU ms per run, and the rows of the last run; after one warm-up.
    The sides' runs are interleaved (a, b, a, b, ...) so a change in load hits both."""
    pid = conn.info.backend_pid

    def once(statements: Statements) -> tuple[float, float, int]:
        rows = 0
        cpu_before, clock = backend_cpu_seconds(pid), time.perf_counter()
        with conn.transaction():
            for text, params in statements:
                rows += len(conn.execute(text, params).fetchall())
        return ((time.perf_counter() - clock) * 1000,
                (backend_cpu_seconds(pid) - cpu_before) * 1000, rows)

    for statements in sides:
        once(statements)
    runs: list[list[tuple[float, float, int]]] = [[] for _ in sides]
    for _ in range(REPEAT):
        for side, statements in zip(runs, sides, strict=True):
            side.append(once(statements))
    return [(statistics.median(w for w, _, _ in side), sum(c for _, c, _ in side) / REPEAT,
             side[-1][2]) for side in runs]


def test_storage_groups_cost_against_the_bare_catalog_queries(big_server: LocalCluster) -> None:
    with own_cluster() as store_cluster:
        MigrationRunner(store_cluster.dsn(), "monitoring").up()
        config = storage_config(store_cluster.dsn(), "bench",
                                big_server.dsn("bench", MONITOR_ROLE), host_filesystem=True,
                                disk_capacity_bytes=50 * 2**30)
        target, catalog = config.targets[0], load_catalog()
        lines = [f"{TABLES:,} tables, {2 * TABLES:,} indexes (+ {BIG_TABLES} tables over 1 MB), "
                 f"top_tables {config.collector.top_tables}, PostgreSQL 15, {REPEAT} runs "
                 "each, interleaved with the bare reads; wall = median ms, cpu = server backend "
                 f"ms per run; {load_average()} at the start",
                 f"{'group':<22} {'rows':>6} {'wall':>8} {'cpu':>7} | {'bare rows':>9} "
                 f"{'wall':>8} {'cpu':>7} | {'x wall':>6} {'x cpu':>6}  (* catalog-wide)"]
        with psycopg.connect(**monitoring_connect_kwargs(target, config.collector),
                             autocommit=True) as conn:
            conn.execute("SET statement_timeout = 120000")
            major = conn.info.server_version // 10000
            resolution = cpu_resolution_ms(conn.info.backend_pid)
            for name in (*STORAGE_GROUPS,):
                group = catalog[name]
                own = ((group.sql_for(major), bind(group.parameters, target, config.collector)),)
                bare = tuple((text, None) for text in BARE[name])
                (wall, cpu, rows), (bare_wall, bare_cpu, bare_rows) = timed(conn, own, bare)
                # Where CPU is counted in 10 ms ticks, below one tick per run there is no ratio
                cpu_ratio = (f"{cpu / bare_cpu:>6.2f}" if bare_cpu >= max(resolution, 0.1)
                             else f"{'—':>6}")
                lines.append(f"{name:<22} {rows:>6} {wall:>8.1f} {cpu:>7.1f} | {bare_rows:>9} "
                             f"{bare_wall:>8.1f} {bare_cpu:>7.1f} | {wall / bare_wall:>6.2f} "
                             f"{cpu_ratio}{'  *' if name in CATALOG_WIDE else ''}")

        store = MetricStore(config.store.dsn, confirm_writes=True)
        store.open()
        lines.append("engine.run, ms of its read (the store write follows): first on a new "
                     "engine's new session, then again on the same (warm) session")
        lines.append(f"  {'group':<26} {'rows':>6} {'first':>8} {'again':>8}")
        try:
            for name in STORAGE_GROUPS:
                engine = Engine(config.collector, store)
                try:
                    first = engine.run(catalog[name], target)
                    again = engine.run(catalog[name], target)
                finally:
                    engine.close()
                assert first.error is None and again.error is None, first.error or again.error
                lines.append(f"  {name:<26} {again.rows_written:>6} "
                             f"{first.duration_ms:>8.1f} {again.duration_ms:>8.1f}")
        finally:
            store.close()
        lines.append(f"{load_average()} at the end")
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
             "uncached (st.cache_data cleared), median of 5 loads: wall ms, and the CPU ms "
             "it cost this process (pandas and all) and the store's backends; "
             f"{load_average()}"]
    with psycopg.connect(store_dsn, autocommit=True) as watcher:
        for page, reads in pages.items():
            totals, cpus = [], []
            per_read = {name: [] for name, _ in reads}  # type: dict[str, list[float]]
            for _ in range(5):
                st.cache_data.clear()
                total = 0.0
                client, store_before = time.process_time(), store_cpu(watcher)
                for name, read in reads:
                    clock = time.perf_counter()
                    read()
                    elapsed = (time.perf_counter() - clock) * 1000
                    per_read[name].append(elapsed)
                    total += elapsed
                totals.append(total)
                store_after = store_cpu(watcher)
                cpus.append(((time.process_time() - client) * 1000,
                             sum(ms - store_before.get(pid, 0.0)
                                 for pid, ms in store_after.items())))
            lines.append(
                f"  {page:<12} {statistics.median(totals):7.0f} ms   cpu: client "
                f"{statistics.median(c for c, _ in cpus):.0f} ms, store "
                f"{statistics.median(s for _, s in cpus):.0f} ms   " + ", ".join(
                    f"{name} {statistics.median(times):.0f}"
                    for name, times in per_read.items()))
    return "\n".join(lines)


def store_cpu(watcher: psycopg.Connection[Any]) -> dict[int, float]:
    """CPU ms so far of each store backend serving the dashboard's pool (by pid)."""
    from dashboard.core.store import APPLICATION_NAME

    pids = [pid for (pid,) in watcher.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [APPLICATION_NAME])]
    return {pid: backend_cpu_seconds(pid) * 1000 for pid in pids
            if Path(f"/proc/{pid}").exists()}
