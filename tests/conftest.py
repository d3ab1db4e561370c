"""Session-wide fixtures: one real PostgreSQL 15 cluster for the run, databases per test.

The cluster has pg_stat_statements preloaded and WAL archiving on, like a production
primary. `kasho_ops_monitor` is the least-privilege monitoring role (pg_monitor only);
`kasho_database` is a seeded Kasho database that `kasho_ops_business` (SELECT on the columns
the business groups read) can read, for tests that only read it; `kasho_copy` clones it for a
test that changes data.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from demo.roles import BUSINESS_ROLE, grant_business_role
from demo.seed import seed
from tests.pg import create_database, drop_database, free_port

MONITOR_ROLE = "kasho_ops_monitor"
# A small Kasho history ending now, so the business groups' first run (8 days back) reads it.
KASHO_SIZES = {"users": 200, "accounts": 400, "transactions": 6_000, "days": 10}


@dataclass(frozen=True)
class KashoDatabase:
    name: str
    admin_dsn: str  # the superuser, to arrange and check data
    business_dsn: str  # Kasho Ops' business role


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-test-"))
    cluster = LocalCluster(base, free_port(), settings={"max_connections": "200"})
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        conn.execute("CREATE EXTENSION pg_stat_statements")
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


def kasho_database_at(cluster: LocalCluster, name: str) -> KashoDatabase:
    return KashoDatabase(name, cluster.dsn(name), cluster.dsn(name, BUSINESS_ROLE))


@pytest.fixture(scope="session")
def kasho_database(pg_cluster: LocalCluster) -> KashoDatabase:
    """Kasho's schema with a seeded history up to now and the business role's grants; read
    it, never change it (use `kasho_copy`)."""
    name = create_database(pg_cluster.dsn(), "kasho")
    dsn = pg_cluster.dsn(name)
    MigrationRunner(dsn, "kasho").up()
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed(conn, **KASHO_SIZES)
        grant_business_role(conn)
    return kasho_database_at(pg_cluster, name)


@pytest.fixture
def kasho_copy(pg_cluster: LocalCluster, kasho_database: KashoDatabase) -> Iterator[KashoDatabase]:
    """A copy of `kasho_database` (data, grants) for one test to change."""
    name = create_database(pg_cluster.dsn(), "kasho", template=kasho_database.name)
    yield kasho_database_at(pg_cluster, name)
    drop_database(pg_cluster.dsn(), name)
