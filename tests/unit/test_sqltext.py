"""The one SQL lexer (collectors/core/sqltext.py): PostgreSQL's lexical rules, masking that
never leaks a literal, statement splitting, table names and statement titles."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.core.sqltext import (
    highest_parameter,
    mask_literals,
    one_line,
    significant,
    split_statements,
    statement_title,
    table_references,
    tokenize,
)
from tests.sql_strategies import SECRET, hostile_statement


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in significant(tokenize(text))]


@pytest.mark.parametrize(("text", "expected"), [
    # `$` continues an identifier: a$$ is no dollar quote, so the ; after it is real.
    ("a$$; b", [("identifier", "a$$"), ("punctuation", ";"), ("identifier", "b")]),
    ("x$y$ $1 $12", [("identifier", "x$y$"), ("parameter", "$1"), ("parameter", "$12")]),
    # A -- comment ends at CR as well as LF.
    ("1 --c\rDELETE", [("number", "1"), ("identifier", "DELETE")]),
    # /* */ nests: the quote and ; inside stay comment.
    ("/* a /* ' */ ; */ b", [("identifier", "b")]),
    # E'' honours backslash escapes; a plain '' does not (standard_conforming_strings).
    (r"E'\'' x", [("string", r"E'\''"), ("identifier", "x")]),
    (r"'a\' x", [("string", r"'a\'"), ("identifier", "x")]),
    ("U&'d\\0061t' U&\"i\" B'01' X'1F' N'n' n'n'",
     [("string", "U&'d\\0061t'"), ("quoted_identifier", 'U&"i"'), ("string", "B'01'"),
      ("string", "X'1F'"), ("identifier", "N"), ("string", "'n'"), ("identifier", "n"),
      ("string", "'n'")]),
    # A letter only prefixes a string at a token start: abE'x' is abE then 'x'.
    ("abE'x'", [("identifier", "abE"), ("string", "'x'")]),
    ("$t$ a $$ ; $t$ ;", [("string", "$t$ a $$ ; $t$"), ("punctuation", ";")]),
    ('"a""b;" c', [("quoted_identifier", '"a""b;"'), ("identifier", "c")]),
    ("1.5e3 .5 0x1F 1_000 a.b", [("number", "1.5e3"), ("number", ".5"), ("number", "0x1F"),
                                 ("number", "1_000"), ("identifier", "a"),
                                 ("punctuation", "."), ("identifier", "b")]),
    ("x::int+-- c\n1", [("identifier", "x"), ("punctuation", "::"), ("identifier", "int"),
                        ("operator", "+"), ("number", "1")]),
    # Quote continuation: pieces split by a newline are one string, in the first one's mode.
    ("E'a'\n'b\\' c' d", [("string", "E'a'\n'b\\' c'"), ("identifier", "d")]),
    ("'a' 'b'", [("string", "'a'"), ("string", "'b'")]),
    ("'a' -- c\n  -- d\n 'b'", [("string", "'a' -- c\n  -- d\n 'b'")]),
    # A long indented line after a string that does not continue (catalogue SQL): one pass,
    # not a backtracking search that never ends.
    ("'p'\n" + " " * 200 + "AND x", [("string", "'p'"), ("identifier", "AND"),
                                      ("identifier", "x")]),
])
def test_tokens_follow_postgresql(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected
    assert "".join(t.text for t in tokenize(text)) == text


@pytest.mark.parametrize("text", ["'abc", "E'ab\\'", "$t$ abc", '"abc', "/* a /* b */"])
def test_unterminated_constructs_run_to_the_end(text: str) -> None:
    tokens = tokenize("SELECT " + text)
    assert not tokens[-1].terminated and tokens[-1].text == text


@pytest.mark.parametrize(("text", "masked"), [
    ("-- don't log this\nALTER ROLE bob PASSWORD 'hunter2'",
     "-- don'?'\nALTER ROLE bob PASSWORD '?'"),
    ("SELECT $1, 'a''b', E'x\\'y' FROM t WHERE c = $2", "SELECT $1, '?', '?' FROM t WHERE c = $2"),
    ("SELECT $body$ a $$ b $body$, $1, a$$b", "SELECT '?', $1, a$$b"),
    ("SELECT \"it's\" FROM t WHERE a = 'x' AND n = 42",
     "SELECT \"it's\" FROM t WHERE a = '?' AND n = 42"),
    ("SELECT 1 /* user_id=77 name='bob' */", "SELECT 1 /* user_id=77 name='?' */"),
    ("INSERT INTO cards VALUES ('4111 1111", "INSERT INTO cards VALUES ('?'"),
    ('SELECT "unterminated', 'SELECT "?"'),
    ("SELECT 1 /* cut", "SELECT 1 /* ? */"),
    # A quote hid a nested */: the comment as masked would end elsewhere, so all of it goes.
    ("/* 'x /* y' */ */ SELECT 1", "/* ? */ SELECT 1"),
])
def test_mask_literals(text: str, masked: str) -> None:
    assert mask_literals(text) == masked


def test_numbers_are_masked_on_request() -> None:
    assert mask_literals("SELECT 1.5, x1, $1 /* id=7 */", numbers=True) == \
        "SELECT ?, x1, $1 /* id=? */"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_statement(), st.data())
def test_a_secret_literal_never_survives_masking(text: str, data: st.DataObject) -> None:
    for numbers in (False, True):
        assert SECRET not in mask_literals(text, numbers=numbers)
    assert SECRET not in one_line(mask_literals(text))
    assert SECRET not in statement_title(text).words
    # Cut anywhere (pg_stat_activity cuts at track_activity_query_size): not even a piece.
    cut = data.draw(st.integers(0, len(text)))
    masked = mask_literals(text[:cut])
    assert not any(SECRET[i:i + 3] in masked for i in range(len(SECRET) - 2))


@pytest.mark.parametrize(("text", "statements", "parameters"), [
    ("SELECT 1 AS a$$; COMMIT; BEGIN READ WRITE; DELETE FROM accounts; --$$", 4, 0),
    ("SELECT 1 --c\r; DELETE FROM t", 2, 0),
    ("SELECT $$;$$, ';' , \"x;\" /* ; */ ;;", 1, 0),
    ("UPDATE t SET a = $2 WHERE b = $10", 1, 10),
])
def test_split_statements_and_parameters(text: str, statements: int, parameters: int) -> None:
    tokens = tokenize(text)
    assert len(split_statements(tokens)) == statements
    assert highest_parameter(tokens) == parameters


@pytest.mark.parametrize(("text", "tables"), [
    ("WITH recent AS (SELECT * FROM payments) SELECT * FROM recent r "
     "JOIN app.accounts a ON true WHERE x IN (SELECT 1 FROM ledger)",
     ["payments", "app.accounts", "ledger"]),
    ("SELECT extract(day FROM created_at) FROM a, b x, \"C\" WHERE a IS DISTINCT FROM b "
     "FOR UPDATE OF a", ["a", "b", '"C"']),
    ("UPDATE accounts SET x = 1 FROM demo d WHERE accounts.id = d.id", ["accounts", "demo"]),
    ("INSERT INTO t (a) SELECT a FROM generate_series(1, 2) g ON CONFLICT (a) DO UPDATE "
     "SET a = 1", ["t"]),
    ("WITH m (n) AS MATERIALIZED (DELETE FROM old RETURNING n) SELECT * FROM m", ["old"]),
    ("SELECT 'FROM fake' FROM real -- FROM commented", ["real"]),
])
def test_table_references(text: str, tables: list[str]) -> None:
    assert table_references(text) == tables


@pytest.mark.parametrize(("text", "name", "hint", "label"), [
    ("-- name: CreateTransaction :one\nINSERT INTO transactions (id) VALUES ($1)",
     "CreateTransaction", ":one", "CreateTransaction"),
    ("/* name: ListAccounts :many */ SELECT * FROM accounts", "ListAccounts", ":many",
     "ListAccounts"),
    ("  -- name: Touch\nUPDATE t SET a = 1", "Touch", None, "Touch"),
    ("/* kasho-ops */ SELECT  count(*)\n FROM pg_stat_activity WHERE a = 'x'", None, None,
     "SELECT count(*) FROM pg_stat_activity WHERE a = '?'"),
    # Only a comment before the first keyword names a statement.
    ("SELECT 1 -- name: NotAName :one", None, None, "SELECT 1"),
    # A text cut inside the comment after its first keyword: the comment says what it is.
    ("SELECT /* kasho-ops */ -- disk_capacity, PostgreSQL 13+: how big the data disk is\n"
     "-- and how full", None, None,
     "SELECT /* kasho-ops */ /* disk_capacity, PostgreSQL 13+:…"),
    ("COMMIT", None, None, "COMMIT"),
    # The first statement only, and a sign that more follow.
    ("SELECT 1 AS a$$; COMMIT; --$$", None, None, "SELECT 1 AS a$$; …"),
])
def test_statement_titles(text: str, name: str | None, hint: str | None, label: str) -> None:
    title = statement_title(text)
    assert (title.name, title.hint, title.label) == (name, hint, label)


def test_title_words_are_cut_and_hints_read() -> None:
    title = statement_title("SELECT " + ", ".join(f"column_{i}" for i in range(30)), 40)
    assert len(title.words) == 40 and title.words.endswith("…")
    assert statement_title("-- name: A :one\nSELECT 1").hint_text == "returns one row"
    assert statement_title("-- name: CreateTransaction :one\nSELECT 1").matches("createtrans")
    assert statement_title("SELECT 1 FROM accounts").matches("ACCOUNTS")


def test_one_line_keeps_code_after_a_line_comment() -> None:
    assert one_line("SELECT 1 -- c\n,   2\n") == "SELECT 1 /* c */ , 2"


@pytest.mark.timeout(60)  # the old continuation pattern backtracked exponentially: a hang
@pytest.mark.parametrize("gap", ["\n" + " " * 64, "\n" + " \n" * 40, "\n  -- c\n" * 30 + "   "])
def test_a_string_followed_by_a_long_gap_and_no_continuation_lexes_at_once(gap: str) -> None:
    text = f"SELECT count(*) FILTER (WHERE relkind <> 'p'{gap}AND n > 1)"
    strings = [t.text for t in tokenize(text) if t.kind == "string"]
    assert strings == ["'p'"]
    assert [t.text for t in tokenize(f"SELECT 'a'{gap}'b'")][-1].endswith("'b'")
