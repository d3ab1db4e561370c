"""The own-activity rule's SQL form answers exactly as its Python form, row for row, for
sessions and statements, with our roles known and unknown."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from psycopg import sql

from dashboard.core.own import OwnActivity

pytestmark = pytest.mark.single_major  # the pages' SQL runs on the store, never on a target

ROLES = ["kasho_ops_monitor", "kasho_app", None]
DATABASES = ["kasho", "kasho_ops", None]
APPLICATIONS = ["kasho-ops", "kasho-ops-dashboard", "kasho-api", "", None]
# Where query_marker.marked puts the marker (after the first keyword), where PostgreSQL 15
# kept it first, and where it is not ours.
TEXTS = ["SELECT /* kasho-ops */ 1", "WITH /* kasho-ops */ -- x\n x AS (SELECT 1) SELECT 1",
         " \n\tSELECT\n/* kasho-ops */ 1", "/* kasho-ops */ SELECT 1",
         "  /* kasho-ops */ -- x\nSELECT 1", "SELECT 1", "SELECT 1 /* kasho-ops */",
         "SELECT a, /* kasho-ops */ b FROM t", None]
RULES = [OwnActivity(frozenset({"kasho_ops_monitor"}), frozenset({"kasho_ops"})),
         OwnActivity()]


@pytest.mark.parametrize("rule", RULES)
def test_sessions_sql_equals_python(store_dsn: str, rule: OwnActivity) -> None:
    cases = list(itertools.product(APPLICATIONS, ROLES, DATABASES))
    query = sql.SQL("SELECT {} FROM (VALUES {}) AS t(application_name, usename, datname)"
                    ).format(OwnActivity.session_sql(), sql.SQL(", ").join(
                        sql.SQL("(%s::text, %s::text, %s::text)") for _ in cases))
    params = [v for case in cases for v in case]
    with psycopg.connect(store_dsn) as conn:
        answers = [row[0] for row in conn.execute(_bind(query, rule), params).fetchall()]
    assert answers == [rule.is_own_session(a, r, d) for a, r, d in cases]


@pytest.mark.parametrize("rule", RULES)
def test_statements_sql_equals_python(store_dsn: str, rule: OwnActivity) -> None:
    cases = list(itertools.product(TEXTS, ROLES, DATABASES))
    query = sql.SQL("SELECT {} FROM (VALUES {}) AS t(query, rolname, datname)").format(
        OwnActivity.statement_sql(), sql.SQL(", ").join(
            sql.SQL("(%s::text, %s::text, %s::text)") for _ in cases))
    params = [v for case in cases for v in case]
    with psycopg.connect(store_dsn) as conn:
        answers = [row[0] for row in conn.execute(_bind(query, rule), params).fetchall()]
    assert answers == [rule.is_own_statement(t, r, d) for t, r, d in cases]


def _bind(query: sql.Composed, rule: OwnActivity) -> sql.Composed:
    """The rule's named parameters as literals, so the rows can use positional ones."""
    text = query.as_string(None)
    for name, value in rule.params().items():
        text = text.replace(f"%({name})s", sql.Literal(value).as_string(None))
    return sql.SQL(text)  # type: ignore[arg-type]
