"""What the pages used to compute inline, now pure: Queries' own statements, load shape,
baseline note and tables; Locks' tiles; average active sessions and their statements."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from dashboard.core.own import OwnActivity
from dashboard.core.timeseries import Collection
from dashboard.features.active_sessions import logic as ash
from dashboard.features.locks import logic as locks
from dashboard.features.queries import logic as qa

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
OURS = OwnActivity(frozenset({"kasho_ops_monitor"}))


def at(minutes: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(minutes=minutes))


def test_own_statements_are_left_out_and_counted() -> None:
    totals = pd.DataFrame({"queryid": [1, 2, 3], "own": [False, True, True]})
    shown, hidden = qa.visible_statements(totals, show_own=False)
    assert (shown["queryid"].tolist(), hidden) == ([1], 2)
    assert qa.visible_statements(totals, show_own=True)[1] == 0


def test_hidden_statement_time_is_not_counted_as_other() -> None:
    key = (1, 1, 2, True)
    by_statement = pd.DataFrame({"bucket": [at(0)], "queryid": [1], "dbid": [1],
                                 "userid": [2], "toplevel": [True],
                                 "total_exec_time_ms": [300.0]})
    totals = pd.DataFrame({"bucket": [at(0), at(1)], "total_exec_time_ms": [1000.0, 50.0]})
    hidden = pd.DataFrame({"bucket": [at(0)], "total_exec_time_ms": [600.0]})
    shape = qa.load_shape(by_statement, totals, {key: "first"}, hidden)
    other = shape[shape["label"] == "other statements"]["total_exec_time_ms"].tolist()
    assert other == [100.0, 50.0]


def test_legend_labels_are_cut_at_a_word() -> None:
    text = "SELECT t.created_at, t.kind, t.amount, t.currency FROM transactions t"
    assert qa.one_line(text, 40) == "SELECT t.created_at, t.kind, t.amount…"
    assert qa.one_line("x" * 50, 10) == "x" * 9 + "…"


def test_regressions_need_a_full_baseline() -> None:
    baseline_from = datetime(2026, 2, 22, tzinfo=UTC)
    assert qa.baseline_note(datetime(2026, 2, 1, tzinfo=UTC), baseline_from, 7) is None
    assert qa.baseline_note(T0 - timedelta(hours=2), baseline_from, 7) == (
        "Not enough history yet (statement statistics since 2026-03-01 08:00 UTC): "
        "regressions compare the recent window with the 7 whole days before it, from "
        "2026-02-22 on.")
    assert str(qa.baseline_note(None, baseline_from, 7)).startswith(
        "Not enough history yet (no statement statistics yet)")


def test_top_statements_table_keeps_who_ran_it_in_view_and_dashes_absent_figures() -> None:
    top = pd.DataFrame({"query": ["SELECT 1", None], "queryid": [7, 8],
                        "datname": ["kasho", "kasho"], "rolname": ["app", "app"],
                        "time_share": [0.5, 0.1], "total_exec_time_ms": [10.0, 2.0],
                        "mean_exec_time_ms": [1.0, np.nan], "calls": [10, 2], "rows": [10, 0],
                        "hit_ratio": [1.0, np.nan], "io_blocks": [0.0, 0.0],
                        "temp_blocks": [0.0, 0.0]})
    table = qa.top_statements_table(top, [[1.0], [2.0]])
    assert list(table.columns)[:3] == ["statement", "database", "role"]
    assert table["statement"].tolist() == ["SELECT 1", "queryid 8"]
    assert table["mean"].tolist() == ["1.0 ms", "—"]
    assert pd.isna(table.loc[1, "hit %"])  # None in the grid, shown as "—"


def test_locks_tiles_name_the_range() -> None:
    history = pd.DataFrame({"blocked_sessions": [0.0, 3.0], "longest_wait_seconds": [0, 90.0]})
    totals = pd.DataFrame({"deadlocks": [1.0, 1.0]})
    prepared = pd.DataFrame({"prepared": [0], "oldest_seconds": [0.0],
                             "max_prepared_transactions": [0]})
    tiles = locks.tiles(history, totals, prepared, "in last 6 h")
    assert [(t.label, t.value, t.delta) for t in tiles] == [
        ("Most sessions waiting", "3", "in last 6 h"),
        ("Longest lock wait", "90 s", "in last 6 h"),
        ("Deadlocks", "2", "in last 6 h"),
        ("Prepared transactions, latest", "0", None)]
    empty = locks.tiles(history.iloc[0:0], totals.iloc[0:0], prepared.iloc[0:0], "x")
    assert [t.value for t in empty] == ["—"] * 4


def collection(runs: dict[pd.Timestamp, int], end: float = 3) -> Collection:
    return Collection("active_sessions", 60, 60, at(0).to_pydatetime(),
                      at(end).to_pydatetime(), at(end).to_pydatetime(), runs, (),
                      at(-60).to_pydatetime(), at(end).to_pydatetime())


def test_average_active_sessions_divide_by_the_runs_a_bucket_holds() -> None:
    # Bucket 0: one 60 s run, 90 session-seconds of CPU. Bucket 1: two runs (a drifted one
    # landed in it), 120 of IO. Bucket 2: a run that found nobody active: 0.
    frame = pd.DataFrame({"collected_at": [at(0), at(1), at(0)],
                          "series": ["CPU", "IO", "CPU"], "own": [False, False, True],
                          "session_seconds": [90.0, 120.0, 30.0]})
    active = ash.average_active_sessions(frame, collection({at(0): 1, at(1): 2, at(2): 1}),
                                         show_own=False)
    assert active.wide.to_dict("list") == {"CPU": [1.5, 0.0, 0.0], "IO": [0.0, 1.0, 0.0]}
    assert active.hidden_session_seconds == 30.0
    assert ash.peak_average(active) == 1.5
    shown = ash.average_active_sessions(frame, collection({at(0): 1, at(1): 2, at(2): 1}),
                                        show_own=True)
    assert shown.wide["CPU"].tolist() == [2.0, 0.0, 0.0]


def test_statements_active_the_most_with_their_waits() -> None:
    top = pd.DataFrame({
        "queryid": [11, 0, 12], "datname": ["kasho"] * 3,
        "usename": ["app", "app", "kasho_ops_monitor"],
        "session_seconds": [360.0, 60.0, 30.0],
        "by_wait": [json.dumps({"CPU": 270.0, "Lock": 90.0}), json.dumps({"IO": 60.0}),
                    json.dumps({"CPU": 30.0})],
        "own_session": [False, False, False],
        "query": ["-- name: CreateTransaction :one\nINSERT INTO transactions VALUES ($1)", None,
                  "SELECT 1"]})
    table, hidden = ash.statements_table(top, OURS, False, window_seconds=3600)
    assert hidden == 1
    assert table[["queryid", "avg active", "waits"]].values.tolist() == [
        [11, 0.1, "CPU 75 % · Lock 25 %"], [0, 60 / 3600, "IO 100 %"]]
    assert table.loc[1, "statement"].startswith("(no statement id")
    assert table.loc[0, "statement"] == "CreateTransaction"  # the sqlc name leads
