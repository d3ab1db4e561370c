"""The pgbench payments workload against a small seeded database: it runs clean and stops clean."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from demo.seed import seed
from demo.workload import (
    APPLICATION_NAME,
    DEFAULT_SCRIPT_WEIGHTS,
    Workload,
    WorkloadError,
    start_workload,
)
from tests.pg import create_database, drop_database

# Pgbench scripts; the demo on PostgreSQL 18 is covered by test_demo.
pytestmark = pytest.mark.single_major

BALANCE_MISMATCHES = """
    SELECT count(*) FROM accounts a
    WHERE a.balance <> coalesce((
        SELECT sum(CASE WHEN t.kind IN ('deposit', 'transfer_in') THEN t.amount
                        ELSE -t.amount END)
        FROM transactions t WHERE t.account_id = a.id AND t.status = 'completed'), 0)"""


@pytest.fixture(scope="module")
def seeded_dsn(pg_cluster: LocalCluster) -> Iterator[str]:
    name = create_database(pg_cluster.dsn(), "workload")
    dsn = pg_cluster.dsn(name)
    MigrationRunner(dsn, "kasho").up()
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed(conn, users=100, accounts=200, transactions=3_000, days=30)
    yield dsn
    drop_database(pg_cluster.dsn(), name)


def count_rows(dsn: str, query: str, params: Any = None) -> Any:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchone()[0]


def workload_sessions(dsn: str) -> int:
    return int(count_rows(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                               "%s AND datname = current_database()", [APPLICATION_NAME]))


def wait_for_sessions(dsn: str, expected: int, timeout_seconds: float = 30) -> int:
    deadline = time.monotonic() + timeout_seconds
    while (sessions := workload_sessions(dsn)) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return sessions


def test_a_timed_run_completes_every_script_without_errors(seeded_dsn: str,
                                                           tmp_path: Path) -> None:
    before = count_rows(seeded_dsn, "SELECT count(*) FROM transactions")
    workload = start_workload(seeded_dsn, clients=4, duration_seconds=3,
                              log_path=tmp_path / "pgbench.log")
    exit_code = workload.wait(120)
    report = workload.report()
    log = workload.log_path.read_text()
    assert exit_code == 0, log
    assert report.aborted_clients == [] and report.failed_transactions == 0, log
    assert report.transactions is not None and report.transactions > 0 and report.tps
    assert set(report.transactions_by_script) == set(DEFAULT_SCRIPT_WEIGHTS)
    for writer in ("transfer", "deposit", "card_payment"):
        assert report.transactions_by_script[writer] > 0, writer
    after = count_rows(seeded_dsn, "SELECT count(*) FROM transactions")
    assert after > before
    assert count_rows(seeded_dsn, BALANCE_MISMATCHES) == 0
    assert count_rows(seeded_dsn, "SELECT count(*) FROM transactions WHERE kind = 'transfer_out'") \
        == count_rows(seeded_dsn, "SELECT count(*) FROM transactions WHERE kind = 'transfer_in'")


def test_stop_ends_pgbench_and_its_sessions(seeded_dsn: str, tmp_path: Path) -> None:
    workload = start_workload(seeded_dsn, clients=2, rate=50, log_path=tmp_path / "pgbench.log")
    try:
        assert wait_for_sessions(seeded_dsn, 2) == 2, workload.log_path.read_text()
        assert workload.is_running()
        assert workload.stop() == 0
    finally:
        if workload.is_running():
            workload.process.kill()
    assert workload.process.poll() == 0
    assert not Path(f"/proc/{workload.pid}").exists()
    assert wait_for_sessions(seeded_dsn, 0) == 0
    report = workload.report()
    # The clean stop still prints pgbench's closing report.
    assert report.aborted_clients == [] and report.transactions is not None, \
        workload.log_path.read_text()
    assert workload.stop() == 0  # stopping twice is harmless


def test_a_failing_script_is_reported_as_aborted_clients(seeded_dsn: str,
                                                         tmp_path: Path) -> None:
    broken = tmp_path / "broken.sql"
    broken.write_text("SELECT no_such_column FROM accounts;\n")
    with start_workload(seeded_dsn, clients=2, duration_seconds=30,
                        log_path=tmp_path / "pgbench.log",
                        scripts={broken: 1, "read_balance": 1}) as workload:
        exit_code = workload.wait(120)
    report = workload.report()
    assert exit_code == 2
    assert len(report.aborted_clients) == 2
    assert "no_such_column" in workload.log_path.read_text()


def test_password_stays_out_of_the_command_line(seeded_dsn: str, tmp_path: Path) -> None:
    dsn = seeded_dsn + " password=hunter2"
    workload: Workload = start_workload(dsn, clients=1, duration_seconds=1,
                                        log_path=tmp_path / "pgbench.log")
    assert workload.wait(60) == 0, workload.log_path.read_text()
    assert not any("hunter2" in argument for argument in workload.command)
    assert f"application_name={APPLICATION_NAME}" in workload.command[-1]


def test_an_unseeded_database_is_refused(pg_cluster: LocalCluster, fresh_database: str,
                                         tmp_path: Path) -> None:
    MigrationRunner(pg_cluster.dsn(fresh_database), "kasho").up()
    with pytest.raises(WorkloadError, match="no demo_accounts table: seed the database first"):
        start_workload(pg_cluster.dsn(fresh_database), log_path=tmp_path / "pgbench.log")
    with pytest.raises(WorkloadError, match="does not exist"):
        start_workload(pg_cluster.dsn(fresh_database).replace("dbname=", "dbname=x"),
                       log_path=tmp_path / "pgbench.log")
