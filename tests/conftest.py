"""Session-wide fixtures: one real PostgreSQL 15 cluster for the run, databases per test.

The cluster has pg_stat_statements preloaded and WAL archiving on, like a production
primary. `kasho_ops_monitor` is the least-privilege monitoring role (pg_monitor only).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.pg import create_database, drop_database, free_port

MONITOR_ROLE = "kasho_ops_monitor"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-test-"))
    cluster = LocalCluster(base, free_port(), settings={"max_connections": "200"})
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute("CREATE EXTENSION pg_buffercache")  # buffer_cache runs where installed
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def store_dsn(pg_cluster: LocalCluster) -> str:
    """A metrics-store database with the monitoring migrations applied (shared by the run)."""
    name = create_database(pg_cluster.dsn(), "store")
    dsn = pg_cluster.dsn(name)
    MigrationRunner(dsn, "monitoring").up()
    return dsn


@pytest.fixture
def fresh_database(pg_cluster: LocalCluster) -> Iterator[str]:
    """An empty database for one test; yields its name."""
    name = create_database(pg_cluster.dsn())
    yield name
    drop_database(pg_cluster.dsn(), name)


@pytest.fixture
def fresh_store(pg_cluster: LocalCluster) -> Iterator[str]:
    """A metrics store of its own for one test (for exact row assertions); yields its DSN."""
    name = create_database(pg_cluster.dsn(), "store")
    dsn = pg_cluster.dsn(name)
    MigrationRunner(dsn, "monitoring").up()
    yield dsn
    drop_database(pg_cluster.dsn(), name)
