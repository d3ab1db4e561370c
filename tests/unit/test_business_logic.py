"""Business logic and charts (pure): coverage, rates, outcomes, exact money per currency,
tiles, statement labels and the correlation panels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from collectors.core.config import parse_config
from dashboard.core.context import TIME_RANGES, build_context, end_param, parse_end
from dashboard.core.figures import CHART_HEIGHT
from dashboard.features.business import charts, logic

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def frame(rows: list[tuple[datetime, str, str, str, str, int, str]]) -> pd.DataFrame:
    """business_transactions rows: bucket, event, type, status, currency, count, amount."""
    return pd.DataFrame([(b, e, t, s, c, n, Decimal(a), None, None)
                         for b, e, t, s, c, n, a in rows],
                        columns=["bucket", "event", "transaction_type", "status", "currency",
                                 "transactions", "amount", "age_seconds_sum",
                                 "age_seconds_max"])


def windows(*spans: tuple[datetime, datetime]) -> pd.DataFrame:
    return pd.DataFrame(spans, columns=["window_start", "watermark"])


def test_covered_buckets_are_whole_buckets_inside_merged_windows() -> None:
    read = windows((T0 + timedelta(seconds=20), T0 + 3 * MINUTE),
                   (T0 + 3 * MINUTE, T0 + 5 * MINUTE + timedelta(seconds=30)),
                   (T0 + 8 * MINUTE, T0 + 9 * MINUTE))
    covered = logic.covered_buckets(read, T0, T0 + 10 * MINUTE, 60)
    # 09:00 is read only from :20; 09:05 only to :30; 09:06-09:07 never; 09:08 wholly.
    assert list(covered) == [pd.Timestamp(T0 + m * MINUTE) for m in (1, 2, 3, 4, 8)]
    assert list(logic.covered_buckets(windows(), T0, T0 + MINUTE, 60)) == []
    assert logic.business_bucket(2) == 60 and logic.business_bucket(1680) == 1680
    assert logic.business_bucket(250) == 240


def test_throughput_fills_read_minutes_without_rows_with_zero_and_leaves_others_out() -> None:
    tx = frame([(T0, "created", "card_payment", "completed", "USD", 6, "60.00"),
                (T0, "created_changed", "deposit", "completed", "EUR", 2, "10.00"),
                (T0, "changed", "deposit", "completed", "EUR", 5, "50.00"),
                (T0 + 9 * MINUTE, "created", "fee", "completed", "USD", 3, "3")])
    covered = pd.DatetimeIndex([T0, T0 + MINUTE])
    rates = logic.throughput(tx, covered, 60)
    assert rates.to_dict("index") == {
        pd.Timestamp(T0): {"card_payment": 6.0, "deposit": 2.0},
        pd.Timestamp(T0 + MINUTE): {"card_payment": 0.0, "deposit": 0.0}}
    assert logic.throughput(tx, pd.DatetimeIndex([T0]), 120).iloc[0].to_dict() == {
        "card_payment": 3.0, "deposit": 1.0}  # two-minute buckets: per minute


def test_outcomes_count_each_transaction_once_and_the_rate_needs_volume() -> None:
    tx = frame([(T0, "created", "card_payment", "completed", "USD", 18, "1"),
                (T0, "created", "card_payment", "failed", "USD", 2, "1"),
                (T0, "created", "deposit", "pending", "USD", 4, "1"),
                # already settled when read: counted by its change, not twice
                (T0, "created_changed", "deposit", "completed", "USD", 3, "1"),
                (T0, "changed", "deposit", "completed", "USD", 3, "1"),
                (T0, "changed", "withdrawal", "failed", "USD", 1, "1"),
                (T0 + MINUTE, "created", "fee", "failed", "USD", 1, "1")])
    covered = pd.DatetimeIndex([T0, T0 + MINUTE])
    result = logic.outcomes(tx, covered)
    assert result.loc[pd.Timestamp(T0), ["completed", "failed", "reversed"]].tolist() == [21, 3, 0]
    assert result.loc[pd.Timestamp(T0), "failure_rate_percent"] == pytest.approx(12.5)
    assert pd.isna(result.loc[pd.Timestamp(T0 + MINUTE), "failure_rate_percent"])  # 1 of 1
    assert logic.failure_rate(tx, covered) == pytest.approx(100 * 4 / 25)
    assert logic.status_changes(tx, covered, 60).loc[pd.Timestamp(T0)].to_dict() == {
        "completed": 3.0, "failed": 1.0}


def test_money_is_exact_and_never_summed_across_currencies() -> None:
    tx = frame([(T0, "created", "deposit", "completed", "USD", 1, "0.1000"),
                (T0, "created", "deposit", "completed", "USD", 1, "0.2000"),
                (T0 + MINUTE, "created_changed", "withdrawal", "failed", "USD", 1, "12.3456"),
                (T0, "created", "deposit", "completed", "JPY", 2, "150000"),
                (T0, "changed", "deposit", "completed", "JPY", 9, "999"),
                (T0, "created", "fee", "completed", "", 1, "5")])
    covered = pd.DatetimeIndex([T0, T0 + MINUTE])
    totals = logic.currency_totals(tx, covered)
    # Completed and failed are outcomes: the settled JPY deposits count where they settled,
    # the USD withdrawal (created, failed before it was read) where its change is.
    assert totals.to_dict("records") == [
        {"currency": "USD", "created": 3, "amount": Decimal("12.6456"), "completed": 2,
         "completed_amount": Decimal("0.3000"), "failed": 0},
        {"currency": "JPY", "created": 2, "amount": Decimal("150000"), "completed": 11,
         "completed_amount": Decimal("150999"), "failed": 0},
        {"currency": "(no account)", "created": 1, "amount": Decimal("5"), "completed": 1,
         "completed_amount": Decimal("5"), "failed": 0}]
    assert all(isinstance(v, Decimal) for v in totals["amount"])
    usd = logic.volume(tx, covered, "USD")
    assert usd.loc[pd.Timestamp(T0)].to_dict() == {"deposit": Decimal("0.3000"),
                                                   "withdrawal": Decimal(0)}
    table = logic.currency_table(totals)
    assert table.iloc[0].to_dict() == {
        "Currency": "USD", "Created": 3, "Amount": "12.6456", "Completed": 2,
        "Completed amount": "0.30", "Failed": 0, "Failure rate": "0.0 %"}


@pytest.mark.parametrize(("amount", "shown"), [
    ("1234.5000", "1,234.50"), ("12.3456", "12.3456"), ("873352.0000", "873,352.00"),
    ("-185", "-185.00"), ("0", "0.00"), ("0.0050", "0.005"),
    ("123456789012345.1234", "123,456,789,012,345.1234")])
def test_format_money_never_rounds(amount: str, shown: str) -> None:
    assert logic.format_money(Decimal(amount)) == shown


def pending_frame(rows: list[tuple[datetime, str, str, int, str | None, float]]) -> pd.DataFrame:
    return pd.DataFrame([(t, c, k, n, None if a is None else Decimal(a), age)
                         for t, c, k, n, a, age in rows],
                        columns=["collected_at", "currency", "transaction_type", "transactions",
                                 "amount", "oldest_age_seconds"])


def test_pending_backlog_from_the_all_currencies_row_and_the_latest_sample() -> None:
    backlog = pending_frame([
        (T0, "*", "*", 5, None, 600.0), (T0, "USD", "deposit", 5, "50", 600.0),
        (T0 + MINUTE, "*", "*", 3, None, 90.0), (T0 + MINUTE, "USD", "deposit", 2, "20", 90.0),
        (T0 + MINUTE, "EUR", "withdrawal", 1, "7.5", 30.0)])
    series = logic.pending_series(backlog)
    assert series["transactions"].tolist() == [5.0, 3.0]
    now = logic.pending_now(backlog)
    assert now.to_dict("records") == [
        {"currency": "USD", "transactions": 2, "amount": Decimal("20"), "oldest_age_seconds": 90.0},
        {"currency": "EUR", "transactions": 1, "amount": Decimal("7.5"),
         "oldest_age_seconds": 30.0}]
    assert logic.pending_table(now)["Oldest"].tolist() == ["90 s", "30 s"]


def test_headline_compares_the_latest_minutes_with_a_week_ago() -> None:
    covered = pd.DatetimeIndex([T0 + m * MINUTE for m in range(30)])
    tx = frame([(T0 + m * MINUTE, "created", "card_payment", "completed", "USD", 10, "1")
                for m in range(30)] + [(T0 + 29 * MINUTE, "created", "fee", "failed", "USD",
                                        10, "1")])
    backlog = pending_frame([(T0 + 29 * MINUTE, "*", "*", 42, None, 4000.0)])
    h = logic.headline(tx, covered, week_ago_count=75, pending=backlog, bucket=60)
    assert (h.per_minute, h.per_minute_week_ago, h.window_minutes) == (
        pytest.approx(160 / 15), 5.0, 15)
    assert h.failure_rate_percent == pytest.approx(100 * 10 / 160)
    tiles = logic.headline_tiles(h)
    assert [(t.label, t.value, t.delta, t.delta_color) for t in tiles] == [
        ("Transactions/min", "10.7", "+113% vs 5.0 a week ago", "green"),
        ("Failure rate", "6.2 %", "latest 15 min", "off"),
        ("Pending backlog", "42", "oldest 66.7 min", "orange")]
    slow = logic.headline_tiles(logic.BusinessHeadline(2.0, 10.0, None, None, None, 15))
    assert [(t.value, t.delta, t.delta_color) for t in slow] == [
        ("2.0", "-80% vs 10.0 a week ago", "red"), ("—", None, "off"), ("—", None, "off")]
    busy = logic.headline_tiles(logic.BusinessHeadline(500.0, 1.0, 1.0, 0, 0.0, 15))
    assert (busy[0].delta, busy[2].delta) == ("×500 vs 1.0 a week ago", "empty")
    unknown = logic.headline_tiles(logic.BusinessHeadline(3.0, None, 1.0, 1, 5.0, 15))
    assert unknown[0].delta == "no data from a week ago"


def test_statement_labels_lead_with_the_sqlc_name() -> None:
    assert logic.statement_label("-- name: CreateTransaction :one\nINSERT INTO t") == \
        "CreateTransaction"
    assert logic.statement_label("SELECT  balance\nFROM accounts") == \
        "SELECT balance FROM accounts"
    assert logic.statement_label("SELECT balance FROM accounts WHERE id = $1 AND x") == \
        "SELECT balance FROM accounts…"  # cut at a word (sqltext.cut_at_word)
    statements = pd.DataFrame({
        "bucket": [T0, T0, T0, T0 + MINUTE], "queryid": [1, 2, 2, 1], "dbid": [5, 5, 5, 5],
        "userid": [7, 7, 7, 7],
        "query": ["-- name: GetAccount :one\nSELECT 1", "-- name: GetAccount :one\nSELECT 2",
                  "-- name: GetAccount :one\nSELECT 2", "-- name: GetAccount :one\nSELECT 1"],
        "calls": [4.0, 1.0, 1.0, 0.0], "total_exec_time_ms": [8.0, 3.0, 1.0, 0.0]})
    means = logic.statement_means(statements)
    assert list(means.columns) == ["GetAccount", "GetAccount #2"]
    assert means.loc[pd.Timestamp(T0)].tolist() == [2.0, 2.0]
    assert pd.isna(means.loc[pd.Timestamp(T0 + MINUTE), "GetAccount"])
    assert logic.statement_keys(statements) == {"GetAccount": (1, 5, 7),
                                                "GetAccount #2": (2, 5, 7)}


def test_correlation_panels_traces_and_figure_line_up() -> None:
    covered = pd.DatetimeIndex([T0, T0 + MINUTE])
    tx = frame([(T0, "created", "card_payment", "completed", "USD", 30, "1")])
    commits = pd.DataFrame({"collected_at": [T0, T0 + MINUTE],
                            "commits_per_second": [100.0, 20.0]})
    locks = pd.DataFrame({"collected_at": [T0, T0 + MINUTE], "blocked_sessions": [0.0, 6.0]})
    panels = logic.correlation_panels(tx, covered, 60, pending_frame([]), commits,
                                      pd.DataFrame(), locks)
    assert [p.title for p in panels] == [
        "Payments: transactions created per minute", "Payments: failed per minute",
        "Database: commits per second", "Lock waits: sessions waiting"]
    kinds = logic.trace_kinds(panels)
    figure = charts.correlation_figure(panels, (T0 - MINUTE, T0 + 2 * MINUTE))
    assert figure is not None
    assert [trace.name for trace in figure.data] == [name for _, name in kinds]
    assert kinds[-1] == ("locks", "waiting for a lock")
    assert figure.layout.xaxis.matches == "x4"  # no pending sample: three rows above
    assert charts.correlation_figure([], None) is None
    assert logic.drill_down_end(T0, T0 + timedelta(hours=2)) == T0 + timedelta(minutes=30)
    assert logic.drill_down_end(T0, T0 + MINUTE) == T0 + MINUTE


def test_charts_draw_data_and_return_none_without() -> None:
    covered = pd.DatetimeIndex([T0, T0 + MINUTE])
    tx = frame([(T0, "created", "card_payment", "completed", "USD", 30, "12.50"),
                (T0, "changed", "deposit", "failed", "USD", 2, "3")])
    assert charts.throughput_figure(logic.throughput(tx, covered, 60)) is not None
    assert charts.throughput_figure(logic.throughput(frame([]), covered, 60)) is None
    volume = charts.volume_figure(logic.volume(tx, covered, "USD"), "USD")
    assert volume is not None and list(volume.data[0].y) == [12.5, 0.0]
    assert charts.outcomes_figure(logic.outcomes(tx, covered)) is not None
    backlog = logic.pending_series(pending_frame([(T0, "*", "*", 3, None, 200_000.0)]))
    figure = charts.pending_figure(backlog)
    assert figure is not None and figure.data[1].name == "oldest (days)"
    assert charts.pending_figure(logic.pending_series(pending_frame([]))) is None
    assert charts.signups_figure(logic.signups_series(pd.DataFrame(
        columns=["bucket", "entity", "account_type", "created"]), covered)) is None


def test_side_legends_hang_from_the_plot_with_room_for_the_widest_entry() -> None:
    covered = pd.DatetimeIndex([T0, T0 + MINUTE])
    short = charts.throughput_figure(pd.DataFrame({"fee": [1.0, 2.0]}, index=covered))
    long = charts.throughput_figure(pd.DataFrame(
        {"a transaction type with a long name": [1.0, 2.0]}, index=covered))
    assert short is not None and long is not None
    assert (short.layout.legend.yref, short.layout.legend.y) == ("paper", 1.0)
    assert short.layout.margin.r == charts.SIDE_LEGEND_MIN_PX < long.layout.margin.r
    assert short.layout.height == CHART_HEIGHT


def test_a_pinned_end_sets_the_window_and_round_trips_through_the_url() -> None:
    moment = datetime(2026, 3, 2, 9, 17, 5, tzinfo=UTC)
    assert parse_end(end_param(moment)) == moment
    assert parse_end("2026-03-02T10:17:05+01:00") == moment
    assert parse_end("yesterday") is None
    config = parse_config({"store": {"dsn": "host=127.0.0.1 dbname=store"},
                           "targets": [{"name": "kasho-primary", "dsn": "host=127.0.0.1"}]},
                          environ={})
    context = build_context(config, "kasho-primary", "1h", pinned_end=moment)
    assert (context.start, context.end, context.pinned) == (
        moment - TIME_RANGES["1h"], moment, True)


def test_database_values_reach_plotly_as_text_not_markup() -> None:
    hostile = "<a href='javascript:alert(1)'>x</a>"
    rates = pd.DataFrame({hostile: [1.0]}, index=pd.DatetimeIndex([T0]))
    figure = charts.throughput_figure(rates)
    assert figure is not None and "<a" not in figure.data[0].name
    assert figure.data[0].name == "&lt;a href='javascript:alert(1)'&gt;x&lt;/a&gt;"
