"""EXPLAIN of collected statements on a real server: planned, never executed, read-only."""

from __future__ import annotations

import psycopg
import pytest

from collectors.actions.explain import ExplainFailed, ExplainRefused, audited_explain, explain
from collectors.core.access import Actor
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.collector_setup import make_config, monitor_dsn

DBA = Actor("dba@kasho", "operator")


@pytest.fixture
def ledger_db(pg_cluster: LocalCluster, fresh_database: str) -> str:
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, account_id int, amount numeric)")
        conn.execute("INSERT INTO ledger SELECT g, g % 10, g FROM generate_series(1, 1000) g")
        conn.execute("CREATE TABLE secrets (id int)")
        conn.execute("ANALYZE ledger")
        conn.execute(f"GRANT SELECT, INSERT, DELETE ON ledger TO {MONITOR_ROLE}")
    return fresh_database


def run_explain(pg_cluster: LocalCluster, store_dsn: str, dbname: str, text: str,
                parameters: list[str | None] | None = None):
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster)})  # dbname: postgres
    return explain(config.targets[0], config.collector, dbname, text, parameters or [])


def ledger_count(pg_cluster: LocalCluster, dbname: str) -> int:
    with psycopg.connect(pg_cluster.dsn(dbname)) as conn:
        return conn.execute("SELECT count(*) FROM ledger").fetchone()[0]


def test_generic_plan_of_a_normalized_statement(pg_cluster: LocalCluster, store_dsn: str,
                                                ledger_db: str) -> None:
    result = run_explain(pg_cluster, store_dsn, ledger_db,
                         "SELECT amount FROM ledger WHERE id = $1")
    assert result.generic
    assert result.method == "PREPARE + EXPLAIN EXECUTE (generic plan)"  # the server runs 15
    assert "Index Scan using ledger_pkey on ledger" in result.plan
    assert "$1" in result.plan
    assert result.tables == ("public.ledger",)


def test_sample_values_give_a_custom_plan(pg_cluster: LocalCluster, store_dsn: str,
                                          ledger_db: str) -> None:
    result = run_explain(pg_cluster, store_dsn, ledger_db,
                         "SELECT amount FROM ledger WHERE id = $1 AND account_id = $2",
                         ["42", "2"])
    assert not result.generic
    assert "(id = 42)" in result.plan and "(account_id = 2)" in result.plan


def test_writes_are_planned_never_executed(pg_cluster: LocalCluster, store_dsn: str,
                                           ledger_db: str) -> None:
    before = ledger_count(pg_cluster, ledger_db)
    deleted = run_explain(pg_cluster, store_dsn, ledger_db, "DELETE FROM ledger WHERE id > $1",
                          ["0"])
    inserted = run_explain(pg_cluster, store_dsn, ledger_db,
                           "INSERT INTO ledger VALUES ($1, $2, $3)")
    assert deleted.plan.startswith("Delete on ledger")
    assert inserted.plan.startswith("Insert on ledger")
    assert ledger_count(pg_cluster, ledger_db) == before == 1000


@pytest.mark.parametrize(("text", "message"), [
    ("SELECT 1; DELETE FROM ledger", "only one statement can be explained"),
    ("TRUNCATE ledger", "not TRUNCATE"),
])
def test_refused_before_connecting(pg_cluster: LocalCluster, store_dsn: str, ledger_db: str,
                                   text: str, message: str) -> None:
    with pytest.raises(ExplainRefused, match=message):
        run_explain(pg_cluster, store_dsn, ledger_db, text)
    assert ledger_count(pg_cluster, ledger_db) == 1000


def test_server_errors_come_back_as_one_line(pg_cluster: LocalCluster, store_dsn: str,
                                             ledger_db: str) -> None:
    with pytest.raises(ExplainRefused) as denied:
        run_explain(pg_cluster, store_dsn, ledger_db, "SELECT * FROM secrets")
    assert str(denied.value) == "EXPLAIN failed: permission denied for table secrets"
    with pytest.raises(ExplainRefused, match="2 parameters; 1 values"):
        run_explain(pg_cluster, store_dsn, ledger_db,
                    "SELECT 1 FROM ledger WHERE id = $1 AND account_id = $2", ["1"])


def test_every_attempt_is_audited_without_the_values(pg_cluster: LocalCluster, fresh_store: str,
                                                     ledger_db: str) -> None:
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster)})
    planned = audited_explain(config, "local", ledger_db,
                              "SELECT amount FROM ledger WHERE id = $1", ["987654321"],
                              42, DBA)
    assert "ledger" in planned.plan
    with pytest.raises(ExplainRefused):
        audited_explain(config, "local", ledger_db, "DROP TABLE ledger", [], None, DBA)
    with pytest.raises(ExplainFailed):
        audited_explain(config, "local", ledger_db, "SELECT * FROM secrets", [], 7, DBA)
    with psycopg.connect(fresh_store) as conn:
        rows = conn.execute("SELECT actor, target, datname, queryid, sample_values, outcome, "
                            "error FROM kasho_ops.explain_runs ORDER BY id").fetchall()
        assert rows == [
            ("dba@kasho", "local", ledger_db, 42, True, "planned", None),
            ("dba@kasho", "local", ledger_db, None, False, "refused",
             "only SELECT, INSERT, UPDATE, DELETE, WITH statements can be explained, not DROP"),
            ("dba@kasho", "local", ledger_db, 7, False, "failed",
             "EXPLAIN failed: permission denied for table secrets")]
        dumped = conn.execute("SELECT string_agg(t::text, ' ') FROM kasho_ops.explain_runs t"
                              ).fetchone()[0]
        assert "987654321" not in dumped
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM kasho_ops.explain_runs")


def test_no_audit_trail_no_explain(pg_cluster: LocalCluster, fresh_database: str,
                                   ledger_db: str) -> None:
    config = make_config(pg_cluster.dsn(fresh_database),  # a database without the store schema
                         {"local": monitor_dsn(pg_cluster)})
    with pytest.raises(ExplainFailed, match="EXPLAIN was not run: its audit trail"):
        audited_explain(config, "local", ledger_db, "SELECT 1 FROM ledger", [], None, DBA)


def test_a_viewer_is_denied_explain_and_recorded(pg_cluster: LocalCluster, fresh_store: str,
                                                 ledger_db: str) -> None:
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster)})
    with pytest.raises(ExplainRefused, match="explain needs the operator role"):
        audited_explain(config, "local", ledger_db, "SELECT 1 FROM ledger", [], None,
                        Actor("vera@kasho", "viewer"))
    with psycopg.connect(fresh_store) as conn:
        assert conn.execute("SELECT actor, actor_role, outcome FROM kasho_ops.explain_runs"
                            ).fetchall() == [("vera@kasho", "viewer", "denied")]
