"""The lexer against PostgreSQL's own: pg_stat_statements replaces each constant of a SELECT
with $n using the server's scanner, so a hostile SELECT run on a real server tells exactly
where its constants are. Ours must find the same ones, and masking must hide each secret."""

from __future__ import annotations

import re
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings

from collectors.core.sqltext import mask_literals, tokenize
from demo.cluster import LocalCluster
from tests.sql_strategies import SECRET, select_statement


@pytest.fixture(scope="module")
def server(pg_cluster: LocalCluster) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        yield conn


def server_constants(conn: psycopg.Connection[tuple[object, ...]], text: str) -> str:
    """The statement as pg_stat_statements stores it, each constant as $?."""
    conn.execute("SELECT pg_stat_statements_reset()")
    conn.execute(text)  # simple protocol: the text exactly as written
    rows = conn.execute("SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM "
                        "pg_database WHERE datname = current_database()) AND query NOT LIKE "
                        "'%pg_stat_statements%'").fetchall()
    assert len(rows) == 1, rows
    # No identifier of select_statement holds `$` and a digit, so every $n is a constant.
    return re.sub(r"\$\d+", "$?", str(rows[0][0])).strip()


def our_constants(text: str) -> str:
    return "".join("$?" if t.kind in ("string", "number") else t.text
                   for t in tokenize(text)).strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(select_statement())
def test_constants_are_where_postgresql_sees_them(
        server: psycopg.Connection[tuple[object, ...]], text: str) -> None:
    normalized = server_constants(server, text)
    assert SECRET not in normalized  # the generator put every secret in a constant
    assert our_constants(text) == normalized
    assert SECRET not in mask_literals(text)
