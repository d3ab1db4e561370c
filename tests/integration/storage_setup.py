"""Real conditions for the storage, maintenance and index tests: dead rows with autovacuum
off, an overdue analyze, duplicate / redundant / unused indexes, an invalid index from a
failed CREATE INDEX CONCURRENTLY, a sequentially scanned column, a slow VACUUM to watch in
progress, and a throwaway cluster whose next XID was moved with pg_resetwal -x."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from collectors.core.config import Config, parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import is_own_statement
from collectors.core.scheduler import Collector
from collectors.core.store import RunRecord
from demo.cluster import LocalCluster, PgInstall, _as_postgres_user, _chown_to_postgres
from tests.conftest import MONITOR_ROLE
from tests.integration.collector_setup import confirming_store
from tests.pg import HeldSession, free_port

STORAGE_GROUPS = ("disk_usage", "disk_capacity", "database_size", "schema_size", "table_stats",
                  "index_stats", "relation_summary", "bloat_estimate", "maintenance_progress",
                  "autovacuum_status", "database_wraparound", "xmin_horizon", "buffer_cache",
                  "extensions")
CLOG_XACTS_PER_SEGMENT = 32 * 8192 * 4  # pg_xact: 32 pages of 8 kB, 4 transactions a byte


def storage_config(store_dsn: str, target: str, target_dsn: str, **target_keys: object
                   ) -> Config:
    raw = {"store": {"dsn": store_dsn}, "dashboard": {"actions_enabled": True},
           "targets": [{"name": target, "dsn": target_dsn, **target_keys}]}
    return parse_config(raw, environ={}, known_groups=set(load_catalog()))


@contextmanager
def storage_collector(config: Config) -> Iterator[Collector]:
    catalog = load_catalog()
    store = confirming_store(config)  # rows stored when a run returns
    collector = Collector(config, [catalog[g] for g in STORAGE_GROUPS], store)
    try:
        yield collector
    finally:
        collector.close()
        store.close()


def collect(collector: Collector, *groups: str) -> list[RunRecord]:
    """Run the named groups (all storage groups when none) once; each must succeed."""
    by_name = {g.name: g for g in collector.groups}
    records = []
    for name in groups or STORAGE_GROUPS:
        record = collector.collect(by_name[name], collector.config.targets[0])
        assert record.error is None, record.error
        records.append(record)
    return records


def store_rows(store_dsn: str, query: str, params: object = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `check()` until it is true (setup only, never an assertion on timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def flush_statistics(dsn: str) -> None:
    """Make this session's table statistics visible to others now (PostgreSQL 15 flushes
    them at most once a second otherwise)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_force_next_flush()")


def dead_rows(dsn: str, table: str, rows: int, updates: int) -> None:
    """`table` with `rows` rows and autovacuum off, each row updated `updates` times: every
    update leaves a dead row nothing will clean up."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, balance numeric(19,4)) "
                     "WITH (autovacuum_enabled = false)")
        conn.execute(f"INSERT INTO {table} SELECT g, 0 FROM generate_series(1, {rows}) g")
        conn.execute("SELECT pg_stat_force_next_flush()")  # counted before ANALYZE resets
        conn.execute(f"ANALYZE {table}")
        for _ in range(updates):
            conn.execute(f"UPDATE {table} SET balance = balance + 1")
        conn.execute("SELECT pg_stat_force_next_flush()")


def failed_concurrent_index(dsn: str, table: str, column: str, name: str) -> None:
    """A unique CREATE INDEX CONCURRENTLY over duplicate values: it fails and leaves `name`
    behind, invalid."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({column})")
        except psycopg.errors.UniqueViolation:
            return
    raise AssertionError(f"CREATE UNIQUE INDEX CONCURRENTLY on {table} ({column}) did not fail")


@contextmanager
def slow_vacuum(dsn: str, table: str) -> Iterator[HeldSession]:
    """VACUUM `table` in the background, throttled to a crawl (cost delay), so it can be
    seen in pg_stat_progress_vacuum; cancelled when the block ends."""
    session = HeldSession(dsn, "slow-vacuum")
    session.execute("SET vacuum_cost_delay = 100")
    session.execute("SET vacuum_cost_limit = 1")
    session.execute_in_background(f"VACUUM (VERBOSE false) {table}")
    try:
        yield session
    finally:
        session.close()


@contextmanager
def cluster_with_next_xid(next_xid: int, install: PgInstall | None = None
                          ) -> Iterator[LocalCluster]:
    """A throwaway cluster whose next transaction ID was moved to `next_xid` (a multiple of
    a pg_xact segment) with pg_resetwal -x, so every database's age(datfrozenxid) starts
    near `next_xid`. pg_resetwal needs the commit log segment for it to exist: written as
    zeros (no transaction in it has happened)."""
    if next_xid % CLOG_XACTS_PER_SEGMENT:
        raise ValueError("next_xid must be a multiple of a pg_xact segment (1048576)")
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-xid-"))
    cluster = LocalCluster(base / "pg", free_port(), install=install)
    try:
        cluster.init()
        subprocess.run(_as_postgres_user([str(cluster.bin / "pg_resetwal"), "-x", str(next_xid),
                                          "-D", str(cluster.data_dir)]),
                       check=True, capture_output=True, cwd="/")
        segment = cluster.data_dir / "pg_xact" / f"{next_xid // CLOG_XACTS_PER_SEGMENT:04X}"
        segment.write_bytes(bytes(CLOG_XACTS_PER_SEGMENT // 4))
        _chown_to_postgres(segment)
        cluster.start()
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
            conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def consume_xids(dsn: str, count: int) -> None:
    """`count` transactions that each take a transaction ID."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(count):
            conn.execute("SELECT pg_current_xact_id()")


# psycopg's own transaction control (conn.transaction()), not a statement Kasho Ops wrote
TRANSACTION_CONTROL = r"^(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\y"  # \y: a word end


def unmarked_statements(cluster: LocalCluster, dbname: str, role: str = MONITOR_ROLE
                        ) -> list[str]:
    """Top-level statements `role` ran in `dbname` (pg_stat_statements, so the extension is
    created there) without Kasho Ops' marker where query_marker.marked puts it; psycopg's
    transaction control aside."""
    with psycopg.connect(cluster.dsn(dbname), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        rows = conn.execute(
            "SELECT s.query FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
            "WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND r.rolname = %s AND s.query !~* %s AND s.toplevel",  # not hypopg's own SQL
            [role, TRANSACTION_CONTROL]).fetchall()
    return [str(text) for (text,) in rows if not is_own_statement(text)]
