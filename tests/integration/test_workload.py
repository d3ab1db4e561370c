"""The pgbench payments workload against a small seeded database: it runs clean and stops clean,
as the application role, with sqlc-named statements and lock contention on hot accounts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from demo.roles import APP_ROLE, grant_app_role
from demo.seed import seed
from demo.workload import (
    APPLICATION_NAME,
    DEFAULT_SCRIPT_WEIGHTS,
    SCRIPTS_DIR,
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
        SELECT sum(CASE WHEN t.transaction_type IN ('deposit', 'transfer_in') THEN t.amount
                        ELSE -t.amount END)
        FROM transactions t WHERE t.account_id = a.id AND t.status = 'completed'), 0)"""


@pytest.fixture(scope="module")
def admin_dsn(pg_cluster: LocalCluster) -> Iterator[str]:
    """A seeded Kasho database, as the superuser (for checks)."""
    name = create_database(pg_cluster.dsn(), "workload")
    dsn = pg_cluster.dsn(name)
    MigrationRunner(dsn, "kasho").up()
    with psycopg.connect(dsn, autocommit=True) as conn:
        seed(conn, users=100, accounts=200, transactions=3_000, days=30)
        grant_app_role(conn)
    yield dsn
    drop_database(pg_cluster.dsn(), name)


@pytest.fixture(scope="module")
def seeded_dsn(pg_cluster: LocalCluster, admin_dsn: str) -> str:
    """The same database as the application role the workload runs as."""
    return admin_dsn.replace(f"user={pg_cluster.superuser}", f"user={APP_ROLE}")


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


def test_a_timed_run_completes_every_script_without_errors(admin_dsn: str, seeded_dsn: str,
                                                           tmp_path: Path) -> None:
    before = count_rows(admin_dsn, "SELECT count(*) FROM transactions")
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
    after = count_rows(admin_dsn, "SELECT count(*) FROM transactions")
    assert after > before
    assert count_rows(admin_dsn, BALANCE_MISMATCHES) == 0
    assert count_rows(admin_dsn, "SELECT count(*) FILTER (WHERE transaction_type = "
                                  "'transfer_out') - count(*) FILTER (WHERE transaction_type = "
                                  "'transfer_in') FROM transactions") == 0


def test_stop_ends_pgbench_and_its_sessions(admin_dsn: str, seeded_dsn: str,
                                            tmp_path: Path) -> None:
    workload = start_workload(seeded_dsn, clients=2, rate=50, log_path=tmp_path / "pgbench.log")
    try:
        assert wait_for_sessions(admin_dsn, 2) == 2, workload.log_path.read_text()
        assert workload.is_running()
        assert workload.stop() == 0
    finally:
        if workload.is_running():
            workload.process.kill()
    assert workload.process.poll() == 0
    assert not Path(f"/proc/{workload.pid}").exists()
    assert wait_for_sessions(admin_dsn, 0) == 0
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
    with pytest.raises(WorkloadError, match=r"no kasho_demo\.accounts table: seed the "
                                            r"database first"):
        start_workload(pg_cluster.dsn(fresh_database), log_path=tmp_path / "pgbench.log")
    with pytest.raises(WorkloadError, match="does not exist"):
        start_workload(pg_cluster.dsn(fresh_database).replace("dbname=", "dbname=x"),
                       log_path=tmp_path / "pgbench.log")


SQLC_NAME = re.compile(r"^-- name: (\w+) :(one|many|exec)$", re.M)


@pytest.fixture(scope="module")
def workload_statements(pg_cluster: LocalCluster, admin_dsn: str, seeded_dsn: str,
                        tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """pg_stat_statements' texts of the application role in this database after every script
    ran (equal weights; then the fee batch alone, on every pick)."""
    logs = tmp_path_factory.mktemp("every-script")
    others = dict.fromkeys(set(DEFAULT_SCRIPT_WEIGHTS) - {"fee_run"}, 1)
    for scripts, clients, seconds in ((others, 4, 3), ({"fee_run": 1}, 1, 1)):
        log_path = logs / f"{len(scripts)}.log"
        workload = start_workload(seeded_dsn, clients=clients, duration_seconds=seconds,
                                  log_path=log_path, scripts=scripts, fee_run_odds=1)
        assert workload.wait(120) == 0, log_path.read_text()
        report = workload.report()  # pgbench reports per script only when there are several
        assert report.transactions, log_path.read_text()
        assert min(report.transactions_by_script.values(), default=1) > 0, log_path.read_text()
    database = psycopg.conninfo.conninfo_to_dict(admin_dsn)["dbname"]
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:  # the extension's home
        return [row[0] for row in conn.execute(
            "SELECT s.query FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
            "WHERE r.rolname = %s AND s.dbid = (SELECT oid FROM pg_database "
            "WHERE datname = %s)", [APP_ROLE, database])]


def test_statements_carry_their_sqlc_names_in_pg_stat_statements(
        workload_statements: list[str]) -> None:
    """pgbench drops a comment before a statement; the workload gets it through anyway, and
    PostgreSQL 15's pg_stat_statements keeps it as the first line of the normalised text."""
    # Transaction control is not a query of its own in sqlc either (pgx's Begin and Commit).
    named = [text for text in workload_statements if text not in ("BEGIN", "END", "COMMIT")]
    assert len(named) > 10
    unnamed = [text for text in named if not SQLC_NAME.match(text.splitlines()[0])]
    assert unnamed == []
    by_name = {SQLC_NAME.match(text)[1] for text in named}  # type: ignore[index]
    in_scripts = {name for path in SCRIPTS_DIR.glob("*.sql")
                  for name, _ in SQLC_NAME.findall(path.read_text())}
    assert by_name - in_scripts == {"DemoFindPickList", "DemoCountAccounts"}  # workload.py's
    assert in_scripts <= by_name  # every script's every statement ran
    create = next(text for text in named if text.startswith("-- name: CreateTransaction :one\n"))
    assert create.splitlines()[1:] == [
        "INSERT INTO transactions (id, account_id, transaction_type, amount, status)",
        "VALUES (gen_random_uuid(), $1, $2, $3, $4)",
        "RETURNING id, created_at"]


def test_every_workload_statement_has_a_generic_plan(admin_dsn: str,
                                                     workload_statements: list[str]) -> None:
    """EXPLAIN works on the demo's own statements as stored: the types of their `$n` follow
    from the statement (no `unknown / unknown`), and plans need no superuser-only object."""
    failures = []
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        for number, text in enumerate(workload_statements):
            if not text.startswith("-- name: "):
                continue
            name = f"workload_{number}"
            try:
                conn.execute(f"PREPARE {name} AS {text}")
                parameters = conn.execute(
                    "SELECT cardinality(parameter_types) FROM pg_prepared_statements "
                    "WHERE name = %s", [name]).fetchone()[0]
                arguments = f"({', '.join(['NULL'] * parameters)})" if parameters else ""
                conn.execute(f"EXPLAIN EXECUTE {name}{arguments}")
            except psycopg.Error as exc:
                failures.append(f"{text.splitlines()[0]}: {exc}")
    assert failures == []


def test_the_application_role_has_only_the_grants_the_scripts_need(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        role = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls "
                            "FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone()
        assert role == (False, False, False, False)
        privileges = conn.execute("""
            SELECT table_schema || '.' || table_name, string_agg(privilege_type, ','
                                                                 ORDER BY privilege_type)
            FROM information_schema.role_table_grants WHERE grantee = %s
              AND table_catalog = current_database()
            GROUP BY 1 ORDER BY 1""", [APP_ROLE]).fetchall()
    assert privileges == [("kasho_demo.accounts", "SELECT"),
                          ("public.accounts", "INSERT,SELECT,UPDATE"),
                          ("public.transactions", "INSERT,SELECT,UPDATE"),
                          ("public.users", "INSERT,SELECT,UPDATE")]


def test_hot_accounts_make_lock_waits_and_blocking_chains(admin_dsn: str, seeded_dsn: str,
                                                          tmp_path: Path) -> None:
    """Checkouts queue on the merchants' rows: within seconds some session waits for a lock
    held by a session that itself waits (a chain), all of them the application's."""
    deepest, waiting_roles = 0, set()
    with start_workload(seeded_dsn, clients=8, duration_seconds=60,
                        log_path=tmp_path / "pgbench.log",
                        scripts={"pay_merchant": 10, "card_payment": 5}) as workload, \
            psycopg.connect(admin_dsn, autocommit=True) as conn:
        deadline = time.monotonic() + 45
        while deepest < 2 and time.monotonic() < deadline and workload.is_running():
            for usename, blockers_waiting in conn.execute("""
                    SELECT a.usename, EXISTS (
                        SELECT FROM pg_stat_activity b
                        WHERE b.pid = ANY(pg_blocking_pids(a.pid)) AND b.wait_event_type = 'Lock')
                    FROM pg_stat_activity a
                    WHERE a.wait_event_type = 'Lock' AND a.datname = current_database()"""):
                waiting_roles.add(usename)
                deepest = max(deepest, 2 if blockers_waiting else 1)
            time.sleep(0.05)
    assert deepest == 2, workload.log_path.read_text()[-2000:]
    assert waiting_roles == {APP_ROLE}
    assert count_rows(admin_dsn, BALANCE_MISMATCHES) == 0
