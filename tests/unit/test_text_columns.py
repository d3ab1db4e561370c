"""The catalogue's text_columns: validated at load, split off rows once per text key."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.core.engine import text_batch, to_batch
from collectors.core.errors import KashoOpsError
from collectors.core.metric_groups import load_group
from collectors.core.sqltext import mask_literals

SPEC = {"kind": "counter", "interval_seconds": 60, "keys": ["queryid", "dbid", "toplevel"],
        "counters": ["calls"], "text_columns": ["query"], "text_keys": ["queryid", "dbid"],
        "text_table": "query_texts"}


def group_with(tmp_path: Path, drop: tuple[str, ...] = (), **spec: object):
    (tmp_path / "g").mkdir(exist_ok=True)
    (tmp_path / "g" / "13.sql").write_text("SELECT 1")
    merged = {k: v for k, v in {**SPEC, **spec}.items() if k not in drop}
    return load_group("g", merged, tmp_path)


@pytest.mark.parametrize(("spec", "drop", "message"), [
    ({}, ("text_table",), "need a text_table"),
    ({"text_keys": ["queryid", "userid"]}, (), "subset of keys"),
    ({"text_columns": ["calls"]}, (), "cannot also be keys or counters"),
    ({}, ("text_columns",), "only make sense with text_columns"),
])
def test_bad_text_settings_fail_at_load(tmp_path: Path, spec: dict, drop: tuple,
                                        message: str) -> None:
    with pytest.raises(KashoOpsError, match=message):
        group_with(tmp_path, drop, **spec)


def test_texts_leave_the_rows_and_are_kept_once_per_text_key(tmp_path: Path) -> None:
    group = group_with(tmp_path)
    rows = [{"queryid": 1, "dbid": 5, "toplevel": True, "query": "SELECT $1", "calls": 3},
            {"queryid": 1, "dbid": 5, "toplevel": False, "query": "SELECT $1", "calls": 1},
            {"queryid": 2, "dbid": 5, "toplevel": True, "query": "UPDATE t", "calls": 7}]
    slim, texts = group.split_texts(rows)
    assert slim == [{"queryid": 1, "dbid": 5, "toplevel": True, "calls": 3},
                    {"queryid": 1, "dbid": 5, "toplevel": False, "calls": 1},
                    {"queryid": 2, "dbid": 5, "toplevel": True, "calls": 7}]
    assert texts == {(1, 5): {"queryid": 1, "dbid": 5, "query": "SELECT $1"},
                     (2, 5): {"queryid": 2, "dbid": 5, "query": "UPDATE t"}}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    side = text_batch(group, "t1", now, list(texts.values()))
    assert side.insert_once and side.table == "query_texts"
    assert side.columns == ("target", "first_seen_at", "queryid", "dbid", "query")
    assert side.rows[0] == ("t1", now, 1, 5, "SELECT $1")
    assert "query" not in to_batch(group, "t1", now, slim).columns


def test_groups_without_text_columns_are_untouched(tmp_path: Path) -> None:
    group = group_with(tmp_path, ("text_columns", "text_keys", "text_table"))
    rows = [{"queryid": 1, "calls": 2}]
    assert group.split_texts(rows) == (rows, {})


@pytest.mark.parametrize(("text", "masked"), [
    ("ALTER ROLE app PASSWORD 'hunter2'", "ALTER ROLE app PASSWORD '?'"),
    ("SELECT $1, 'a''b', E'x\\'y' FROM t WHERE c = $2", "SELECT $1, '?', '?' FROM t WHERE c = $2"),
    ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 'z' $$ LANGUAGE sql",
     "CREATE FUNCTION f() RETURNS int AS '?' LANGUAGE sql"),
    ("SELECT $body$ a $$ b $body$, $1", "SELECT '?', $1"),
    ("SELECT \"it's\" FROM t WHERE a = 'x'", "SELECT \"it's\" FROM t WHERE a = '?'"),
])
def test_string_literals_are_masked_identifiers_and_parameters_kept(text: str,
                                                                    masked: str) -> None:
    assert mask_literals(text) == masked


def test_masking_applies_only_to_the_named_text_columns(tmp_path: Path) -> None:
    group = group_with(tmp_path, text_columns=["query", "rolname"], mask_literals_in=["query"])
    texts = [{"queryid": 1, "dbid": 5, "query": "ALTER ROLE x PASSWORD 's3cret'",
              "rolname": "o'brien"}]
    side = text_batch(group, "t1", datetime(2026, 1, 1, tzinfo=UTC), texts)
    assert side.rows[0][-2:] == ("ALTER ROLE x PASSWORD '?'", "o'brien")
    with pytest.raises(KashoOpsError, match="mask_literals_in must name text_columns"):
        group_with(tmp_path, mask_literals_in=["rolname"])
