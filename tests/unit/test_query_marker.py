"""The marker Kasho Ops puts in its statements, and the one rule that recognises it."""

from __future__ import annotations

import re

import pytest

from collectors.actions import signal as signal_action
from collectors.backups.drill import NEWEST_TRANSACTION_SQL, REPLAY_TIME_SQL, ROW_COUNT_SQL
from collectors.backups.scratch import IN_RECOVERY_SQL
from collectors.core.connections import CONNECTION_HEADROOM_SQL
from collectors.core.engine import EXTENSION_INSTALLED_SQL, SERVER_NOW_SQL
from collectors.core.metric_groups import load_catalog
from collectors.core.query_marker import (
    OWN_STATEMENT_PATTERN,
    is_own_statement,
    marked,
)
from collectors.core.sqltext import significant, tokenize
from collectors.core.target_kinds import SERVER_CLOCK_SQL, SET_TIMEOUT_SQL
from collectors.live.activity import ACTIVITY_SQL, SERVER_SQL


@pytest.mark.parametrize(("query", "sent"), [
    ("SELECT 1", "SELECT /* kasho-ops */ 1"),
    ("\n  SELECT a\n  FROM t", "SELECT /* kasho-ops */ a\n  FROM t"),
    ("SELECT\n  a", "SELECT /* kasho-ops */\n  a"),
    ("-- group x, PostgreSQL 15\n-- second line\nSELECT a FROM t",
     "SELECT /* kasho-ops */ -- group x, PostgreSQL 15\n-- second line\n a FROM t"),
    ("/* header */ WITH x AS (SELECT 1) SELECT * FROM x",
     "WITH /* kasho-ops */ /* header */  x AS (SELECT 1) SELECT * FROM x"),
    # A block comment spanning lines after a line comment stays one comment.
    ("-- a\n/* b\nc */SELECT*FROM t", "SELECT /* kasho-ops */ -- a\n/* b\nc */*FROM t"),
])
def test_the_marker_follows_the_first_keyword_and_leading_comments_move_behind_it(
        query: str, sent: str) -> None:
    assert marked(query) == sent
    assert is_own_statement(marked(query))
    # The statement itself is unchanged: the same tokens, comments aside.
    assert [t.text for t in significant(tokenize(marked(query)))] \
        == [t.text for t in significant(tokenize(query))]


@pytest.mark.parametrize("query", ["", "  -- only a comment\n", "(SELECT 1)", "$1"])
def test_a_statement_without_a_leading_keyword_is_refused(query: str) -> None:
    with pytest.raises(ValueError, match="statement"):
        marked(query)


def test_every_statement_a_collector_sends_a_postgres_target_is_marked() -> None:
    groups = [g for g in load_catalog().values() if g.target_kind == "postgres"]
    assert groups
    for group in groups:  # every file of every group: what read_server sends, marked
        for _, sql in group.sql_by_major + group.text_sql_by_major:
            assert is_own_statement(marked(sql)), group.name
    for sent in (SET_TIMEOUT_SQL, SERVER_CLOCK_SQL, CONNECTION_HEADROOM_SQL,
                 marked(SERVER_SQL), marked(ACTIVITY_SQL), SERVER_NOW_SQL,
                 EXTENSION_INSTALLED_SQL.decode(),
                 # what a restore drill asks the restored copy of a target
                 IN_RECOVERY_SQL, REPLAY_TIME_SQL, ROW_COUNT_SQL, NEWEST_TRANSACTION_SQL):
        assert is_own_statement(sent)


@pytest.mark.parametrize(("text", "ours"), [
    ("SELECT /* kasho-ops */ count(*) FROM pg_stat_activity", True),
    ("WITH /* kasho-ops */ -- query_stats texts\n x AS (SELECT 1) SELECT * FROM x", True),
    ("  \n\tSELECT\n/* kasho-ops */ 1", True),
    # As PostgreSQL 15 kept the texts of statements first seen with the marker leading.
    ("/* kasho-ops */ -- query_stats texts\nSELECT DISTINCT ON (s.queryid) 1", True),
    ("  /* kasho-ops */ SELECT 1", True),
    # Elsewhere, it is not where we put it.
    ("SELECT 1 /* kasho-ops */", False),
    ("SELECT a, /* kasho-ops */ b FROM t", False),
    ("-- kasho-ops\nSELECT 1", False),
    ("/* kasho-ops*/ SELECT 1", False),
    ("/* Kasho-Ops */ SELECT 1", False),
    ("SELECT 'x' FROM t", False),
    ("", False),
    (None, False),
    (float("nan"), False),
])
def test_own_statements_are_recognised_by_the_marker_where_it_is_put(
        text: object, ours: bool) -> None:
    assert is_own_statement(text) is ours
    if isinstance(text, str):  # the pattern is the same rule for SQL (see the server test)
        assert (re.match(OWN_STATEMENT_PATTERN, text) is not None) is ours



def test_the_cancel_and_terminate_statements_are_marked() -> None:
    assert is_own_statement(signal_action._LOOKUP)
    for action, version in (("cancel", 150000), ("terminate", 150000), ("terminate", 130000)):
        assert is_own_statement(signal_action._signal_statement(action, version).as_string())
