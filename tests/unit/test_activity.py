"""Pure parts of the live view: literal masking and the blocking forest."""

from __future__ import annotations

import pytest

from collectors.live.activity import Session, blocking_forest, masked_query


@pytest.mark.parametrize(("query", "masked"), [
    ("SELECT * FROM users WHERE email = 'alice@example.com' AND id = 42",
     "SELECT * FROM users WHERE email = '?' AND id = ?"),
    ("UPDATE accounts SET balance = balance - 12.50 WHERE iban = E'DE89\\'3704'",
     "UPDATE accounts SET balance = balance - ? WHERE iban = '?'"),
    ("SELECT 'it''s' , $$dollar 'body'$$, $fn$x$fn$, 1e-3, .5",
     "SELECT '?' , '?', '?', ?, ?"),
    ("SELECT $1, t1.c2 FROM t1 WHERE x IN (3,\n  4)",
     "SELECT $1, t1.c2 FROM t1 WHERE x IN (?, ?)"),
    # Cut at track_activity_query_size inside a literal: the rest is masked, not leaked.
    ("INSERT INTO cards VALUES ('4111 1111 1111", "INSERT INTO cards VALUES ('?'"),
    ("SELECT 1 /* user_id=77 name='bob' */", "SELECT ? /* user_id=? name='?' */"),
    # A comment's apostrophe does not start a literal: the password after it is masked.
    ("-- don't\nALTER ROLE bob PASSWORD 'hunter2'",
     "/* don'?' */ ALTER ROLE bob PASSWORD '?'"),
    ('SELECT "Col 1" FROM "T2"', 'SELECT "Col 1" FROM "T2"'),
    ("<insufficient privilege>", "<insufficient privilege>"),
])
def test_literals_are_masked_and_structure_kept(query: str, masked: str) -> None:
    assert masked_query(query) == masked


def test_masked_text_is_cut_to_the_limit() -> None:
    assert masked_query("SELECT " + "x, " * 100, limit=20) == "SELECT x, x, x, x, …"


def session(pid: int, *blocking: int, app: str = "app") -> Session:
    return Session(pid=pid, datname="kasho", usename="u", application_name=app,
                   client_addr="local", backend_type="client backend", state="active",
                   wait_event_type="Lock" if blocking else "", wait_event="",
                   backend_start=None, query_seconds=1.0, transaction_seconds=1.0,
                   state_seconds=1.0, blocking_pids=tuple(blocking), query="")


def shape(nodes) -> list:
    return [(n.pid, n.repeated, n.in_cycle, shape(n.blocked)) for n in nodes]


def test_chain_three_deep_is_one_tree_rooted_at_the_holder() -> None:
    forest = blocking_forest([session(3, 2), session(1), session(2, 1), session(9)])
    assert shape(forest) == [(1, False, False, [(2, False, False, [(3, False, False, [])])])]
    assert [n.depth for n in forest[0].walk()] == [0, 1, 2]


def test_biggest_blocker_comes_first_and_bystanders_are_left_out() -> None:
    forest = blocking_forest([session(10), session(11, 10), session(20), session(21, 20),
                              session(22, 20), session(30)])
    assert [n.pid for n in forest] == [20, 10]


def test_a_session_blocked_by_two_is_shown_under_the_unblocked_one() -> None:
    forest = blocking_forest([session(1), session(2), session(3, 2, 1), session(4, 3)])
    assert shape(forest) == [(1, False, False, [(3, False, False, [(4, False, False, [])])]),
                             (2, False, False, [])]
    assert [(n.pid, n.blocks) for n in forest[0].walk()] + [(2, forest[1].blocks)] == [
        (1, 1), (3, 1), (4, 0), (2, 1)]


def test_a_queue_behind_one_lock_is_flat_not_a_staircase() -> None:
    # pg_blocking_pids of a queued waiter lists the holder and every waiter ahead of it.
    queue = [session(1)] + [session(p, *range(1, p)) for p in range(2, 8)]
    forest = blocking_forest(queue)
    assert shape(forest) == [(1, False, False, [(p, False, False, []) for p in range(2, 8)])]
    assert [n.blocks for n in forest[0].walk()] == [6, 5, 4, 3, 2, 1, 0]


def test_invisible_blocker_such_as_a_prepared_transaction_is_a_root() -> None:
    forest = blocking_forest([session(5, 0)])
    assert shape(forest) == [(0, False, False, [(5, False, False, [])])]
    assert forest[0].session is None


def test_a_wait_cycle_terminates_and_is_marked() -> None:
    forest = blocking_forest([session(1, 2), session(2, 1), session(3, 2)])
    # No unblocked root: the cycle member reaching most sessions (lowest pid on a tie).
    assert shape(forest) == [(1, False, True, [(2, False, False, [(1, True, False, []),
                                                                  (3, False, False, [])])])]


def test_no_waiters_no_forest() -> None:
    assert blocking_forest([session(1), session(2)]) == []
