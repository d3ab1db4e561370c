"""What collectors.actions.explain accepts before it ever connects: one plannable statement."""

import pytest

from collectors.actions.explain import (
    ExplainRefused,
    check_statement,
    parse_parameters,
    plan_tables,
)


@pytest.mark.parametrize(("text", "params"), [
    ("SELECT * FROM ledger WHERE id = $1 AND kind = $2", 2),
    ("  with t AS (SELECT 1) SELECT * FROM t", 0),
    ("INSERT INTO ledger VALUES ($1, $2, $3);", 3),
    ("UPDATE ledger SET note = 'a;b $9' WHERE id = $1", 1),
    ("DELETE FROM ledger WHERE id = $1 -- trailing; comment", 1),
    ("/* kasho */ SELECT $$;$$, \"odd;name\" FROM t; /* done */", 0),
])
def test_single_plannable_statements_are_accepted(text: str, params: int) -> None:
    assert check_statement(text).parameter_count == params


@pytest.mark.parametrize(("text", "reason"), [
    ("SELECT 1; DELETE FROM ledger", "only one statement"),
    ("DROP TABLE ledger", "not DROP"),
    ("EXPLAIN ANALYZE DELETE FROM ledger", "not EXPLAIN"),
    ("VACUUM FULL ledger", "not VACUUM"),
    ("-- nothing", "no statement"),
    ("SELECT 'x'; COMMIT", "only one statement"),
])
def test_anything_else_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ExplainRefused, match=reason):
        check_statement(text)


def test_trailing_semicolon_is_dropped() -> None:
    assert check_statement("SELECT 1 ;  ").text == "SELECT 1"


def test_parameters_are_one_per_line_and_null_is_null() -> None:
    assert parse_parameters("42\n\n  O'Brien \nnull\n") == ["42", "O'Brien", None]


def test_plan_tables_finds_every_relation_once() -> None:
    plan = [{"Plan": {"Node Type": "Hash Join", "Plans": [
        {"Node Type": "Seq Scan", "Relation Name": "ledger", "Schema": "public"},
        {"Node Type": "Hash", "Plans": [
            {"Node Type": "Index Scan", "Relation Name": "accounts", "Schema": "app"},
            {"Node Type": "Seq Scan", "Relation Name": "ledger", "Schema": "public"}]}]}}]
    assert plan_tables(plan) == ("app.accounts", "public.ledger")
