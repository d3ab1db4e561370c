"""Queries page logic without Streamlit or a database: ranking, derived figures, regressions,
load shape, SQL layout, windows and chart builders."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboard.features.queries import logic as qa
from dashboard.features.queries.charts import load_shape_figure, statement_detail_figure
from dashboard.features.queries.data import Segment, plan_window, rollup_segments

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def totals_row(queryid: int, calls: int, total_ms: float, toplevel: bool = True,
               datname: str = "kasho", rolname: str = "app", **counters: float) -> dict:
    row = {c: 0.0 for c in qa.COUNTERS}
    row.update(queryid=queryid, dbid=1, userid=2, toplevel=toplevel, datname=datname,
               rolname=rolname, query=f"SELECT {queryid}", calls=calls,
               total_exec_time_ms=total_ms, exec_time_squares_ms2=calls * (total_ms / calls) ** 2
               if calls else 0.0)
    row.update(counters)
    return row


def test_figures_share_counts_top_level_time_only() -> None:
    figures = qa.statement_figures(pd.DataFrame([
        totals_row(1, 10, 600.0, shared_blks_hit=90, shared_blks_read=10, rows=30),
        totals_row(2, 100, 400.0),
        totals_row(3, 5, 300.0, toplevel=False),  # inside a function: already in its caller
    ]))
    assert figures["time_share"].round(3).tolist() == [0.6, 0.4, 0.3]
    assert figures["mean_exec_time_ms"].tolist() == [60.0, 4.0, 60.0]
    assert figures["hit_ratio"].iloc[0] == 0.9 and math.isnan(figures["hit_ratio"].iloc[1])
    assert figures["rows_per_call"].iloc[0] == 3.0
    assert figures["stddev_exec_time_ms"].tolist() == [0.0, 0.0, 0.0]


def test_stddev_comes_from_the_sum_of_squares() -> None:
    # calls of 1 ms and 3 ms: mean 2, population stddev 1, sum of squares 1 + 9
    figures = qa.statement_figures(pd.DataFrame([totals_row(1, 2, 4.0)]).assign(
        exec_time_squares_ms2=10.0))
    assert figures["stddev_exec_time_ms"].iloc[0] == 1.0


@pytest.mark.parametrize(("metric", "expected"), [
    ("total_time", [1, 2]), ("mean_time", [1, 2]), ("calls", [2, 1]), ("temp", [2])])
def test_ranking_switches_metric_and_skips_nested_and_zero(metric: str,
                                                           expected: list[int]) -> None:
    figures = qa.statement_figures(pd.DataFrame([
        totals_row(1, 10, 600.0), totals_row(2, 100, 400.0, temp_blks_written=8),
        totals_row(3, 500, 900.0, toplevel=False)]))
    assert qa.rank_statements(figures, metric, 10)["queryid"].tolist() == expected


def test_ranking_filters_by_database_and_role_and_limits() -> None:
    figures = qa.statement_figures(pd.DataFrame([
        totals_row(1, 1, 5.0, datname="kasho"), totals_row(2, 1, 4.0, datname="reports"),
        totals_row(3, 1, 3.0, datname="kasho", rolname="batch"),
        totals_row(4, 1, 2.0, datname="kasho")]))
    assert qa.rank_statements(figures, "total_time", 10, ["kasho"],
                              ["app"])["queryid"].tolist() == [1, 4]
    assert qa.rank_statements(figures, "total_time", 2)["queryid"].tolist() == [1, 2]


def regression_windows(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame([{"queryid": q, "dbid": 1, "userid": 2, "toplevel": True,
                          "baseline_calls": bc, "baseline_time_ms": bt, "recent_calls": rc,
                          "recent_time_ms": rt} for q, bc, bt, rc, rt in rows])


def test_regressions_need_the_factor_and_enough_calls_in_both_windows() -> None:
    windows = regression_windows(
        (1, 1000, 1000.0, 100, 300.0),   # 1 ms -> 3 ms: flagged
        (2, 1000, 1000.0, 100, 150.0),   # 1.5x: not enough
        (3, 10, 10.0, 100, 1000.0),      # 10x but a thin baseline
        (4, 1000, 1000.0, 5, 100.0),     # 20x but only 5 recent calls
        (5, 1000, 100.0, 100, 50.0),     # 0.1 -> 0.5 ms: too fast to matter
        (6, 0, 0.0, 100, 500.0),         # new statement: no baseline
        (7, 1000, 2000.0, 100, 2000.0))  # 2 ms -> 20 ms: the worst
    flagged = qa.find_regressions(windows, qa.RegressionRule(factor=2.0, min_calls=50))
    assert flagged["queryid"].tolist() == [7, 1]
    assert flagged["slowdown"].tolist() == [10.0, 3.0]


def test_regressions_are_listed_newest_onset_first() -> None:
    rule = qa.RegressionRule(factor=2.0, min_calls=1, min_mean_ms=0.0)
    flagged = qa.find_regressions(regression_windows(
        (1, 100, 100.0, 30, 90.0), (2, 100, 100.0, 30, 150.0)), rule)
    recent = pd.DataFrame([
        {"bucket": T0 + timedelta(minutes=m), "queryid": q, "dbid": 1, "userid": 2,
         "toplevel": True, "calls": 10, "total_exec_time_ms": ms}
        for q, m, ms in ((1, 0, 10.0), (1, 5, 40.0), (1, 10, 40.0),
                         (2, 0, 50.0), (2, 5, 50.0), (2, 10, 50.0))])
    ordered = qa.regression_onsets(recent, flagged, rule)
    assert ordered["queryid"].tolist() == [1, 2]
    assert ordered["since"].tolist() == [pd.Timestamp(T0 + timedelta(minutes=5)),
                                         pd.Timestamp(T0)]


def test_load_shape_splits_time_into_statements_and_other() -> None:
    buckets = [T0, T0 + timedelta(hours=1)]
    by_statement = pd.DataFrame([
        {"bucket": buckets[0], "queryid": 1, "dbid": 1, "userid": 2, "toplevel": True,
         "total_exec_time_ms": 70.0},
        {"bucket": buckets[1], "queryid": 2, "dbid": 1, "userid": 2, "toplevel": True,
         "total_exec_time_ms": 20.0}])
    totals = pd.DataFrame({"bucket": buckets, "total_exec_time_ms": [100.0, 20.0]})
    shape = qa.load_shape(by_statement, totals, {(1, 1, 2, True): "first",
                                                 (2, 1, 2, True): "second"})
    wide = shape.pivot_table(index="bucket", columns="label", values="total_exec_time_ms")
    assert wide.to_dict("list") == {"first": [70.0, 0.0], "other statements": [30.0, 0.0],
                                    "second": [0.0, 20.0]}
    figure = load_shape_figure(shape)
    assert [t.name for t in figure.data] == ["first", "second", "other statements"]
    assert figure.layout.barmode == "stack"
    assert load_shape_figure(qa.load_shape(by_statement, totals.iloc[0:0], {})) is None


def test_load_shape_bars_merge_neighbouring_buckets_and_keep_every_second() -> None:
    """240 buckets in 120 bars per statement, each at its first bucket, time summed."""
    buckets = [pd.Timestamp(T0 + timedelta(minutes=6 * i)) for i in range(240)]
    key = (1, 1, 2, True)
    by_statement = pd.DataFrame([
        {"bucket": buckets[i], "queryid": 1, "dbid": 1, "userid": 2, "toplevel": True,
         "total_exec_time_ms": 10.0 * (i + 1)} for i in range(240)])
    totals = pd.DataFrame({"bucket": buckets, "total_exec_time_ms": [100.0] * 240})
    shape = qa.load_shape(by_statement, totals, {key: "first"})
    bars = qa.merged_bars(shape, buckets)
    first = bars[bars["label"] == "first"]
    assert len(first) == 120 and list(first["bucket"][:2]) == [buckets[0], buckets[2]]
    assert list(first["total_exec_time_ms"][:2]) == [30.0, 70.0]
    assert set(first["key"]) == {key} and bars[bars["label"] != "first"]["key"].isna().all()
    assert bars["total_exec_time_ms"].sum() == pytest.approx(shape["total_exec_time_ms"].sum())
    assert qa.merged_bars(shape, buckets[:120]) is shape  # few enough: as they are
    assert [qa.span_words(m) for m in (6, 12, 120, 90)] == ["6 min", "12 min", "2 h", "1.5 h"]


def test_interval_figures_and_detail_chart() -> None:
    series = pd.DataFrame([{**{c: 0.0 for c in qa.COUNTERS}, "bucket": T0 + timedelta(
                                minutes=m), "calls": 120, "total_exec_time_ms": 240.0,
                            "exec_time_squares_ms2": 120 * (1.0 + 4.0), "rows": 360,
                            "shared_blks_hit": 99, "shared_blks_read": 1} for m in (1, 0)])
    figures = qa.interval_figures(series, 60, end=T0 + timedelta(seconds=90))
    assert figures[["calls_per_second", "mean_exec_time_ms", "stddev_exec_time_ms",
                    "rows_per_call", "hit_ratio"]].iloc[0].tolist() == [2.0, 2.0, 1.0, 3.0,
                                                                         0.99]
    assert figures["calls_per_second"].tolist() == [2.0, 4.0]  # the last bucket ran 30 s
    assert len(statement_detail_figure(figures).data) == 6
    assert statement_detail_figure(figures.iloc[0:0]) is None


def test_sparklines_have_one_value_per_bucket_and_zero_when_idle() -> None:
    buckets = [pd.Timestamp(T0), pd.Timestamp(T0 + timedelta(minutes=1)),
               pd.Timestamp(T0 + timedelta(minutes=2))]
    series = pd.DataFrame([{**{c: 0.0 for c in qa.COUNTERS}, "bucket": buckets[1],
                            "queryid": 1, "dbid": 1, "userid": 2, "toplevel": True,
                            "calls": 4, "total_exec_time_ms": 10.0}])
    sparks = qa.sparkline_values(series, buckets, "mean_exec_time_ms",
                                 [(1, 1, 2, True), (9, 1, 2, True)])
    assert sparks == {(1, 1, 2, True): [0.0, 2.5, 0.0], (9, 1, 2, True): [0.0, 0.0, 0.0]}


def test_sparklines_merge_buckets_to_what_the_column_can_show() -> None:
    """240 buckets in 40 points: counters summed per merged bucket, means recomputed from
    the summed counters (not averaged)."""
    buckets = [pd.Timestamp(T0 + timedelta(minutes=i)) for i in range(240)]
    series = pd.DataFrame([{**{c: 0.0 for c in qa.COUNTERS}, "bucket": buckets[i],
                            "queryid": 1, "dbid": 1, "userid": 2, "toplevel": True,
                            "calls": calls, "total_exec_time_ms": ms,
                            "shared_blks_read": 3.0}
                           for i, calls, ms in ((0, 1, 10.0), (5, 3, 2.0), (239, 2, 4.0))])
    key = (1, 1, 2, True)
    means = qa.sparkline_values(series, buckets, "mean_exec_time_ms", [key])[key]
    assert len(means) == 40 and means[0] == 3.0 and means[-1] == 2.0 and sum(means[1:-1]) == 0
    calls = qa.sparkline_values(series, buckets, "calls", [key])[key]
    assert calls[0] == 4 and calls[-1] == 2
    assert qa.sparkline_values(series, buckets, "io_blocks", [key])[key][0] == 6.0
    assert qa.sparkline_values(series, buckets[:30], "calls", [key])[key][:6] == [
        1, 0, 0, 0, 0, 3]


def test_pretty_sql_puts_clauses_on_lines_and_keeps_literals() -> None:
    text = ("select a,  b from ledger l join accounts a on a.id = l.account_id "
            "where l.note = 'from  where' and a.kind = $1 order by 1 limit $2")
    assert qa.pretty_sql(text) == (
        "SELECT a, b\nFROM ledger l\nJOIN accounts a on a.id = l.account_id\n"
        "WHERE l.note = 'from  where'\n  AND a.kind = $1\nORDER BY 1\nLIMIT $2")


def test_text_helpers() -> None:
    assert qa.one_line("SELECT\n  1,\n  2", 100) == "SELECT 1, 2"
    assert qa.one_line("x" * 50, 10) == "x" * 9 + "…"
    assert qa.truncate_lines("a\nb\nc", 2) == ("a\nb\n…", True)
    assert qa.one_line("SELECT 1 -- c\n, 2", 100) == "SELECT 1 /* c */ , 2"
    assert [qa.format_ms(v) for v in (0.0421, 12.34, 4200.0, 186_000.0, 9_000_000.0)] == [
        "0.042 ms", "12.3 ms", "4.2 s", "3.1 min", "2.5 h"]


def test_long_windows_are_whole_hours_and_short_ones_per_interval() -> None:
    end = datetime(2026, 3, 9, 10, 17, 30, tzinfo=UTC)
    week = plan_window(end - timedelta(days=7), end)
    assert (week.long, week.hours_from, week.hours_to, week.bucket) == (
        True, datetime(2026, 3, 2, 10, tzinfo=UTC), datetime(2026, 3, 9, 11, tzinfo=UTC), 3600)
    six_hours = plan_window(end - timedelta(hours=6), end)
    assert not six_hours.long and six_hours.bucket == 120  # at most 240 points a chart


def hours(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_rollup_segments_cover_exactly_the_hours() -> None:
    daily = "query_stats_daily"
    hourly = "query_stats_hourly"
    # 2 Mar 10:00 .. 9 Mar 11:00: days 2-9 minus the first 10 hours and the last 13
    assert rollup_segments(hours(2, 10), hours(9, 11)) == (
        Segment(daily, "day", hours(2, 0), hours(10, 0), 1),
        Segment(hourly, "hour", hours(2, 0), hours(2, 10), -1),
        Segment(hourly, "hour", hours(9, 11), hours(10, 0), -1))
    # starting late in a day: add that day's last hours instead of subtracting 20
    assert rollup_segments(hours(2, 20), hours(5, 0)) == (
        Segment(daily, "day", hours(3, 0), hours(5, 0), 1),
        Segment(hourly, "hour", hours(2, 20), hours(3, 0), 1))
    assert rollup_segments(hours(2, 3), hours(2, 9)) == (
        Segment(hourly, "hour", hours(2, 3), hours(2, 9), 1),)


@pytest.mark.parametrize(("low", "high"), [((2, 10), (9, 11)), ((2, 20), (5, 0)),
                                           ((2, 0), (4, 0)), ((2, 13), (3, 1))])
def test_rollup_segments_count_every_hour_once(low: tuple, high: tuple) -> None:
    lo, hi = hours(*low), hours(*high)
    counted: dict[datetime, int] = {}
    for seg in rollup_segments(lo, hi):
        t = seg.low
        while t < seg.high:
            counted[t] = counted.get(t, 0) + seg.sign
            t += timedelta(hours=1)
    inside = {t for t, n in counted.items() if n}
    assert all(n in (0, 1) for n in counted.values())
    assert inside == {lo + timedelta(hours=i) for i in range(int((hi - lo).total_seconds()
                                                                  // 3600))}


def test_recent_window_starts_at_the_first_slow_hour() -> None:
    rule = qa.RegressionRule(factor=2.0, min_calls=10)
    base = {"dbid": 1, "userid": 2, "toplevel": True, "baseline_calls": 1000.0,
            "baseline_time_ms": 1000.0}
    hours = pd.DataFrame([
        {**base, "queryid": 1, "hour": T0, "calls": 60.0, "total_exec_time_ms": 60.0},
        {**base, "queryid": 1, "hour": T0 + timedelta(hours=1), "calls": 40.0,
         "total_exec_time_ms": 120.0},
        {**base, "queryid": 2, "hour": T0, "calls": 50.0, "total_exec_time_ms": 50.0},
        {**base, "queryid": 2, "hour": T0 + timedelta(hours=1), "calls": 50.0,
         "total_exec_time_ms": 60.0}])
    windows = qa.recent_windows(hours, rule)
    assert windows[["queryid", "recent_calls", "recent_time_ms"]].values.tolist() == [
        [1, 40.0, 120.0], [2, 100.0, 110.0]]
    assert windows["recent_from"].tolist() == [T0 + timedelta(hours=1), T0]
    # diluted over both hours statement 1 is 1.8x: the first slow hour keeps it at 3x
    assert qa.find_regressions(windows, rule)["queryid"].tolist() == [1]


def test_previews_join_on_the_text_key_and_fill_missing_names() -> None:
    statements = pd.DataFrame([{"queryid": 1, "dbid": 1, "userid": 2, "toplevel": True,
                                "datname": "kasho", "rolname": None},
                               {"queryid": 9, "dbid": 1, "userid": 2, "toplevel": True,
                                "datname": "kasho", "rolname": "app"}])
    previews = pd.DataFrame([{"queryid": 1, "dbid": 1, "userid": 2, "datname": "kasho",
                              "rolname": "app", "query": "SELECT 1"}])
    merged = qa.with_previews(statements, previews)
    assert merged[["queryid", "rolname", "query"]].values.tolist() == [
        [1, "app", "SELECT 1"], [9, "app", None]]


def test_pretty_sql_indents_nested_clauses_and_keeps_comments() -> None:
    text = ("WITH x AS (SELECT 1 FROM t WHERE a = 1 AND b = 2) INSERT INTO t (a) SELECT a "
            "FROM x ON CONFLICT (a) DO UPDATE SET a = 1 -- from where\n RETURNING a")
    assert qa.pretty_sql(text) == (
        "WITH x AS (\n  SELECT 1\n  FROM t\n  WHERE a = 1\n    AND b = 2)\nINSERT INTO t (a)\n"
        "SELECT a\nFROM x\nON CONFLICT (a) DO UPDATE SET a = 1 -- from where\nRETURNING a")


SQLC = "-- name: CreateTransaction :one\nINSERT INTO transactions (id, amount) VALUES ($1, $2)"


def test_statements_are_named_by_their_sqlc_name_else_their_first_words() -> None:
    assert qa.statement_label(SQLC, 7) == "CreateTransaction"
    assert qa.statement_label("SELECT  balance\nFROM accounts WHERE id = $1", 7, 20) == (
        "SELECT balance FROM…")
    assert qa.statement_label(None, 7) == "queryid 7"
    assert qa.statement_summary(SQLC, 7) == (
        "CreateTransaction · INSERT INTO transactions (id, amount) VALUES ($1, $2)")


def test_statements_are_found_by_name_or_words() -> None:
    frame = pd.DataFrame({"queryid": [1, 2, 3], "heading": [
        SQLC, "-- name: ListAccounts :many\nSELECT * FROM accounts", None]})
    assert qa.statement_names(frame) == ["CreateTransaction", "ListAccounts"]
    assert qa.filter_statements(frame, "createtrans")["queryid"].tolist() == [1]
    assert qa.filter_statements(frame, "FROM accounts")["queryid"].tolist() == [2]
    assert qa.filter_statements(frame, "", ["ListAccounts"])["queryid"].tolist() == [2]
    assert qa.filter_statements(frame, "  ")["queryid"].tolist() == [1, 2, 3]
