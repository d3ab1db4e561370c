"""EXPLAIN of collected statements on a real server: planned, never executed, read-only, one
statement enforced by the server, every attempt audited before it runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from collectors.actions.explain import (
    CheckedStatement,
    ExplainFailed,
    ExplainRefused,
    ExplainResult,
    audited_explain,
    explain,
    explain_connect_kwargs,
    one_statement,
    plan,
)
from collectors.core.access import Actor
from collectors.core.config import Config, parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.sqltext import highest_parameter, tokenize
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.collector_setup import make_config, monitor_dsn
from tests.pg import HeldSession

EXPLAIN_ROLE = "kasho_ops_explain_test"

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
                parameters: list[str | None] | None = None) -> ExplainResult:
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster)})  # dbname: postgres
    return explain(config.targets[0], config.collector, dbname, text, parameters or [])


def ledger_count(pg_cluster: LocalCluster, dbname: str) -> int:
    with psycopg.connect(pg_cluster.dsn(dbname)) as conn:
        row = conn.execute("SELECT count(*) FROM ledger").fetchone()
        assert row is not None
        return int(row[0])


def test_generic_plan_of_a_normalized_statement(pg_cluster: LocalCluster, store_dsn: str,
                                                ledger_db: str) -> None:
    result = run_explain(pg_cluster, store_dsn, ledger_db,
                         "SELECT amount FROM ledger WHERE id = $1")
    assert result.generic
    assert result.method == "PREPARE + EXPLAIN EXECUTE (generic plan)"
    assert "Index Scan using ledger_pkey on ledger" in result.plan
    assert "$1" in result.plan
    assert result.tables == ("public.ledger",)
    assert result.parameter_types == ()  # the server inferred integer itself


def test_untyped_parameters_get_the_types_their_operators_imply(
        pg_cluster: LocalCluster, store_dsn: str, ledger_db: str) -> None:
    # pgbench's `:cents / 100.0` normalizes to `$1 / $2`: unknown / unknown is ambiguous.
    text = "SELECT round($1 / $2 * amount, 2) FROM ledger WHERE id = $3"
    result = run_explain(pg_cluster, store_dsn, ledger_db, text)
    assert result.parameter_types == ("numeric", "numeric", "unknown")
    assert "Index Scan using ledger_pkey" in result.plan


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


def test_server_errors_come_back_as_one_line(pg_cluster: LocalCluster, store_dsn: str,
                                             ledger_db: str) -> None:
    with pytest.raises(ExplainRefused) as denied:
        run_explain(pg_cluster, store_dsn, ledger_db, "SELECT * FROM secrets")
    assert str(denied.value).startswith("EXPLAIN failed: permission denied for table secrets "
                                        "(EXPLAIN needs the table privileges")
    assert "give target local an explain_dsn role" in str(denied.value)
    assert "\n" not in str(denied.value)
    with pytest.raises(ExplainRefused, match="2 parameters; 1 values"):
        run_explain(pg_cluster, store_dsn, ledger_db,
                    "SELECT 1 FROM ledger WHERE id = $1 AND account_id = $2", ["1"])


# -- explain_dsn ------------------------------------------------------------------------------

def config_with_explain_dsn(store_dsn: str, target_dsn: str, explain_dsn: str) -> Config:
    raw = {"store": {"dsn": store_dsn},
           "targets": [{"name": "local", "dsn": target_dsn, "explain_dsn": explain_dsn}]}
    return parse_config(raw, environ={}, known_groups=set(load_catalog()))


@pytest.fixture
def explain_role(pg_cluster: LocalCluster, ledger_db: str) -> Iterator[str]:
    """A role with SELECT on secrets (what the monitoring role lacks): an explain_dsn role."""
    with psycopg.connect(pg_cluster.dsn(ledger_db), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {EXPLAIN_ROLE} LOGIN")
        conn.execute(f"GRANT SELECT ON secrets TO {EXPLAIN_ROLE}")
    yield EXPLAIN_ROLE
    with psycopg.connect(pg_cluster.dsn(ledger_db), autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {EXPLAIN_ROLE}")
        conn.execute(f"DROP ROLE {EXPLAIN_ROLE}")


def test_explain_dsn_plans_what_the_monitoring_role_may_not_read(
        pg_cluster: LocalCluster, store_dsn: str, ledger_db: str, explain_role: str) -> None:
    config = config_with_explain_dsn(store_dsn, monitor_dsn(pg_cluster),
                                     pg_cluster.dsn("postgres", explain_role))
    target = config.targets[0]
    result = explain(target, config.collector, ledger_db, "SELECT * FROM secrets")
    assert result.plan.startswith("Seq Scan on secrets")
    kwargs = explain_connect_kwargs(target, config.collector, ledger_db)
    assert (kwargs["user"], kwargs["dbname"], kwargs["application_name"]) == (
        explain_role, ledger_db, "kasho-ops-explain")
    assert "default_transaction_read_only=on" in kwargs["options"]


# -- hostile texts ----------------------------------------------------------------------------

@pytest.fixture
def bank_db(pg_cluster: LocalCluster, fresh_database: str) -> Iterator[str]:
    """Accounts, a side-effect log, a sequence and two functions that write when called (one
    of them lying that it is IMMUTABLE, so the planner calls it); the monitoring role may
    write all of it, so only the protocol and the read-only transaction stand in the way."""
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL)")
        conn.execute("INSERT INTO accounts VALUES (1, 100), (2, 200), (3, 300)")
        conn.execute("CREATE TABLE side_effects (note text)")
        conn.execute("CREATE SEQUENCE ids")
        conn.execute("""
            CREATE FUNCTION pwn_volatile() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                INSERT INTO side_effects VALUES ('volatile ran');
                RETURN 1;
            END $$""")
        # PL/pgSQL refuses writes in an IMMUTABLE body, but not a call to a VOLATILE one.
        conn.execute("""
            CREATE FUNCTION pwn_immutable() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
            BEGIN
                PERFORM pwn_volatile();
                RETURN 1;
            END $$""")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON accounts, side_effects "
                     f"TO {MONITOR_ROLE}")
        conn.execute(f"GRANT USAGE, UPDATE ON SEQUENCE ids TO {MONITOR_ROLE}")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {MONITOR_ROLE}")
    yield fresh_database


def bank_state(pg_cluster: LocalCluster, dbname: str) -> tuple[Any, ...]:
    with psycopg.connect(pg_cluster.dsn(dbname)) as conn:
        return (conn.execute("SELECT * FROM accounts ORDER BY id").fetchall(),
                conn.execute("SELECT * FROM side_effects").fetchall(),
                conn.execute("SELECT last_value, is_called FROM ids").fetchall(),
                conn.execute("SELECT to_regclass('pwned') IS NULL").fetchall(),
                conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'relation' "
                             "AND relation = 'accounts'::regclass").fetchall())


SEVERAL_STATEMENTS = [
    # `a$$` is an identifier (`$` continues it), so the `;` after it ends a statement.
    "SELECT 1 AS a$$; COMMIT; BEGIN READ WRITE; DELETE FROM accounts; --$$",
    # A -- comment ends at CR: the DELETE is a statement of its own.
    "SELECT 1 --\r; DELETE FROM accounts",
    # E'' escapes its quote: the string closes before the first `;`.
    "SELECT E'\\''; DELETE FROM accounts; --'",
    # Nested comments close where PostgreSQL says.
    "/* /* */ */ SELECT 1; UPDATE accounts SET balance = 0",
    # A tagged dollar quote ends only at its own tag.
    "SELECT $q$ $$ $q$; INSERT INTO side_effects VALUES ('x')",
    # U&'' follows the standard rules: \0027 is no quote.
    "SELECT U&'\\0027'; DELETE FROM accounts; --'",
    "SELECT 1; COMMIT; CREATE TABLE pwned (x int)",
]
# One statement each, planned or refused by the server, never run.
SINGLE_STATEMENTS = [
    ("/* /* */ ; DELETE FROM accounts; */ SELECT 1", "planned"),
    ("WITH gone AS (DELETE FROM accounts RETURNING *) SELECT * FROM gone", "planned"),
    ("UPDATE accounts SET balance = 0", "planned"),
    ("SELECT * FROM accounts FOR UPDATE", "planned"),
    ("SELECT pwn_volatile(), nextval('ids')", "planned"),
    ("SELECT pwn_immutable()", "cannot execute INSERT in a read-only transaction"),
    ("SELECT * INTO pwned FROM accounts", "planned"),
]


@pytest.mark.parametrize("text", SEVERAL_STATEMENTS)
def test_the_server_refuses_several_statements_even_past_the_text_check(
        pg_cluster: LocalCluster, store_dsn: str, bank_db: str, text: str) -> None:
    before = bank_state(pg_cluster, bank_db)
    with pytest.raises(ExplainRefused, match="only one statement can be explained"):
        run_explain(pg_cluster, store_dsn, bank_db, text)
    # The lexical check is a courtesy: skip it and the server still runs nothing.
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster)})
    unchecked = CheckedStatement(text, highest_parameter(tokenize(text)), tuple(tokenize(text)))
    kwargs = explain_connect_kwargs(config.targets[0], config.collector, bank_db)
    with psycopg.connect(**kwargs) as conn, pytest.raises(
            psycopg.errors.SyntaxError,
            match="cannot insert multiple commands into a prepared statement"):
        plan(conn, unchecked, [])
    assert bank_state(pg_cluster, bank_db) == before


@pytest.mark.parametrize(("text", "outcome"), SINGLE_STATEMENTS)
def test_single_hostile_statements_are_planned_never_run(
        pg_cluster: LocalCluster, store_dsn: str, bank_db: str, text: str,
        outcome: str) -> None:
    before = bank_state(pg_cluster, bank_db)
    if outcome == "planned":
        assert run_explain(pg_cluster, store_dsn, bank_db, text).plan
    else:
        with pytest.raises(ExplainFailed, match=outcome.replace(".", r"\.")):
            run_explain(pg_cluster, store_dsn, bank_db, text)
    assert bank_state(pg_cluster, bank_db) == before


def test_one_statement_runs_over_the_extended_protocol(pg_cluster: LocalCluster) -> None:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        assert one_statement(conn, psycopg.sql.SQL("SELECT 1")) == [(1,)]
        with pytest.raises(psycopg.errors.SyntaxError, match="multiple commands"):
            one_statement(conn, psycopg.sql.SQL("SELECT 1; SELECT 2"))


# -- the audit trail --------------------------------------------------------------------------

def audit_rows(store: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(store) as conn:
        return conn.execute("SELECT actor, target, datname, queryid, sample_values, outcome, "
                            "error FROM kasho_ops.explain_audit ORDER BY id").fetchall()


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
    # PostgreSQL's input error quotes the value: the page shows it, the audit never does.
    with pytest.raises(ExplainFailed) as bad_value:
        audited_explain(config, "local", ledger_db, "SELECT amount FROM ledger WHERE id = $1",
                        ["card-4111111111111111"], 7, DBA)
    assert 'integer: "card-4111111111111111"' in str(bad_value.value)
    rows = audit_rows(fresh_store)
    assert [r[:6] for r in rows] == [
        ("dba@kasho", "local", ledger_db, 42, True, "planned"),
        ("dba@kasho", "local", ledger_db, None, False, "refused"),
        ("dba@kasho", "local", ledger_db, 7, False, "failed"),
        ("dba@kasho", "local", ledger_db, 7, True, "failed")]
    assert rows[1][6] == ("only SELECT, INSERT, UPDATE, DELETE, WITH statements can be "
                          "explained, not DROP")
    assert rows[2][6].startswith("EXPLAIN failed: permission denied for table secrets")
    assert rows[3][6] == 'EXPLAIN failed: invalid input syntax for type integer: "…"'
    with psycopg.connect(fresh_store) as conn:
        dumped = conn.execute(
            "SELECT string_agg(r::text || o::text, ' ') FROM kasho_ops.explain_runs r "
            "JOIN kasho_ops.explain_outcomes o ON o.run_id = r.id").fetchone()
        assert dumped is not None
        assert "987654321" not in dumped[0] and "4111111111111111" not in dumped[0]
        for table in ("explain_runs", "explain_outcomes"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(f"DELETE FROM kasho_ops.{table}")
            conn.rollback()


def test_the_attempt_is_recorded_before_anything_runs(
        pg_cluster: LocalCluster, fresh_store: str, ledger_db: str) -> None:
    """An EXPLAIN held up by a lock: its attempt is already in the audit, its outcome not."""
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster)},
                         lock_timeout_ms=30_000)
    locker = HeldSession(pg_cluster.dsn(ledger_db))
    locker.execute("BEGIN")
    locker.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
    results: list[object] = []
    worker = threading.Thread(target=lambda: results.append(audited_explain(
        config, "local", ledger_db, "SELECT amount FROM ledger WHERE id = $1", [], 5, DBA)))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            while time.monotonic() < deadline and not conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE application_name = "
                    "'kasho-ops-explain' AND wait_event_type = 'Lock'").fetchall():
                time.sleep(0.05)
        assert audit_rows(fresh_store) == [("dba@kasho", "local", ledger_db, 5, False, None, None)]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        worker.join(30)
    assert len(results) == 1 and isinstance(results[0], ExplainResult)
    assert audit_rows(fresh_store) == [("dba@kasho", "local", ledger_db, 5, False, "planned",
                                       None)]


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
        assert conn.execute("SELECT actor, actor_role, outcome FROM kasho_ops.explain_audit"
                            ).fetchall() == [("vera@kasho", "viewer", "denied")]
