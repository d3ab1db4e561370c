"""The marker survives where each server major keeps statement texts: PostgreSQL 18's
pg_stat_statements drops comments before the first keyword (15 keeps them), and
pg_stat_activity cuts texts at track_activity_query_size. Runs on every major."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import OWN_STATEMENT_PATTERN, is_own_statement, marked
from collectors.core.target_kinds import read_server
from demo.cluster import LocalCluster
from tests.integration.collector_setup import monitor_dsn
from tests.pg import HeldSession

OWN_TEXTS_SQL = ("SELECT query, query ~ %s AS ours FROM pg_stat_statements "
                 "WHERE query LIKE %s")


def texts_like(admin_dsn: str, like: str) -> list[tuple[str, bool]]:
    with psycopg.connect(admin_dsn) as conn:
        return [(str(q), bool(o))
                for q, o in conn.execute(OWN_TEXTS_SQL, [OWN_STATEMENT_PATTERN, like])]


def test_a_group_read_is_recognised_in_pg_stat_statements_in_python_and_in_sql(
        pg_cluster: LocalCluster, pg_major: int) -> None:
    tag = f"marker_{uuid.uuid4().hex[:8]}"
    group = load_catalog()["database_stats"]
    with psycopg.connect(monitor_dsn(pg_cluster), autocommit=True) as conn:
        read_server(conn, group.sql_for(pg_major), 5000)
        # Not ours: the same comment elsewhere, a leading one, and no comment at all.
        conn.execute(f"SELECT 1 AS {tag} /* kasho-ops */ FROM pg_class LIMIT 1")
        conn.execute(f"/* kasho-ops */ SELECT 2 AS {tag} FROM pg_proc LIMIT 1")
        conn.execute(f"SELECT 3 AS {tag} FROM pg_type LIMIT 1")
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute(marked(f"SELECT 4 AS {tag} FROM pg_am LIMIT 1"))

    first_line = group.sql_for(pg_major).split("\n", 1)[0]  # the file's header comment
    assert first_line.startswith("--")
    [(group_text, group_ours)] = texts_like(pg_cluster.dsn(), f"%{first_line}%")
    assert group_ours and is_own_statement(group_text)

    ours = {relation: o for text, o in texts_like(pg_cluster.dsn(), f"%{tag}%")
            for relation in ("pg_class", "pg_proc", "pg_type", "pg_am") if relation in text}
    # The old place, first: 15 keeps it (texts stored before the move are still ours),
    # 18 drops it from the text.
    assert ours == {"pg_class": False, "pg_proc": pg_major < 18, "pg_type": False,
                    "pg_am": True}

    # The SQL form and the Python form answer alike, text by text.
    every_text = texts_like(pg_cluster.dsn(), "%")
    assert any(ours for _, ours in every_text)
    assert [is_own_statement(text) for text, _ in every_text] \
        == [ours for _, ours in every_text]


def test_a_long_running_statement_is_recognised_in_pg_stat_activity_past_its_cut(
        pg_cluster: LocalCluster) -> None:
    header = "-- " + "a long header comment " * 100 + "\n"  # past track_activity_query_size
    statement = marked(header + "SELECT pg_sleep(60)")
    session = HeldSession(pg_cluster.dsn())
    try:
        session.execute_in_background(statement)
        deadline = time.monotonic() + 60
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            while True:
                row = conn.execute("SELECT query, query ~ %s, octet_length(query), "
                                   "pg_size_bytes(current_setting('track_activity_query_size'))"
                                   " "
                                   "FROM pg_stat_activity WHERE pid = %s AND state = 'active'",
                                   [OWN_STATEMENT_PATTERN, session.pid]).fetchone()
                if row is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert row is not None, "the statement never showed as active"
        text, ours_in_sql, length, limit = row
        assert length < limit < len(statement)  # cut
        assert ours_in_sql and is_own_statement(text)
    finally:
        session.close()


@pytest.mark.parametrize("query", [
    "SELECT 1", "-- header\nSELECT 1", "/* a */ -- b\nWITH x AS (SELECT 1) SELECT * FROM x"])
def test_a_marked_statement_runs_unchanged(pg_cluster: LocalCluster, query: str) -> None:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        assert conn.execute(marked(query)).fetchall() == conn.execute(query).fetchall()
