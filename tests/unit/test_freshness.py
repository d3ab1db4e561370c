"""Freshness rules: never / failing / stale / ok, the stale threshold's edge, and display."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dashboard.core.freshness import (
    FreshnessRow,
    assess,
    badges_markdown,
    effective_intervals,
    freshness_table,
    problem_summary,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INTERVALS = {"database_size": 300, "connections": 15, "database_stats": 60, "query_stats": 60}


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def test_each_status_from_its_situation() -> None:
    rows = [
        FreshnessRow("database_size", ago(100), ago(100), None),  # 100 s < 3 x 300 s
        FreshnessRow("connections", ago(46), ago(46), None),  # 46 s > 3 x 15 s
        FreshnessRow("database_stats", ago(5), ago(400), "connection refused"),
        # query_stats has no row: never collected
    ]
    result = {g.metric_group: g for g in assess(rows, INTERVALS, NOW, 3.0)}
    assert {name: g.status for name, g in result.items()} == {
        "database_size": "ok", "connections": "stale", "database_stats": "failing",
        "query_stats": "never"}
    assert result["connections"].age_seconds == 46
    assert result["database_stats"].last_error == "connection refused"
    assert result["query_stats"].last_success_at is None
    assert result["query_stats"].age_seconds is None


def test_stale_threshold_is_inclusive_of_exactly_n_intervals() -> None:
    at_limit = [FreshnessRow("connections", ago(45), ago(45), None)]
    past_limit = [FreshnessRow("connections", ago(45.5), ago(45.5), None)]
    assert assess(at_limit, {"connections": 15}, NOW, 3.0)[0].status == "ok"
    assert assess(past_limit, {"connections": 15}, NOW, 3.0)[0].status == "stale"
    assert assess(past_limit, {"connections": 15}, NOW, 4.0)[0].status == "ok"


def test_runs_that_never_succeeded_are_failing_not_never() -> None:
    rows = [FreshnessRow("connections", ago(3), None, "password authentication failed")]
    (group,) = assess(rows, {"connections": 15}, NOW, 3.0)
    assert group.status == "failing"
    assert group.age_seconds is None


def test_order_follows_intervals_and_unknown_groups_are_ignored() -> None:
    rows = [FreshnessRow("retired_group", ago(1), ago(1), None),
            FreshnessRow("connections", ago(1), ago(1), None)]
    result = assess(rows, INTERVALS, NOW, 3.0)
    assert [g.metric_group for g in result] == list(INTERVALS)


def test_config_overrides_replace_catalogue_intervals() -> None:
    assert effective_intervals({"connections": 15, "database_size": 300},
                               {"connections": 5, "not_in_catalogue": 9}) == {
        "connections": 5, "database_size": 300}


def test_problem_summary_and_badges_name_the_problems() -> None:
    rows = [FreshnessRow("database_size", ago(100), ago(100), None),
            FreshnessRow("connections", ago(46), ago(46), None),
            FreshnessRow("database_stats", ago(5), ago(400), "timeout")]
    groups = assess(rows, INTERVALS, NOW, 3.0)
    assert problem_summary(groups) == ("2 of 4 metric groups are not fresh: connections "
                                       "(stale), database_stats (failing)")
    assert badges_markdown(groups) == (":red-badge[connections stale] "
                                       ":red-badge[database\\_stats failing] "
                                       ":green-badge[1 ok] :gray-badge[1 never collected]")
    healthy = assess([FreshnessRow("connections", ago(1), ago(1), None)],
                     {"connections": 15}, NOW, 3.0)
    assert problem_summary(healthy) is None
    assert badges_markdown(healthy) == ":green-badge[1 ok]"


def test_table_is_formatted_and_stale_is_red() -> None:
    rows = [FreshnessRow("database_size", ago(2520), ago(2520), None),
            FreshnessRow("database_stats", ago(5), ago(400),
                         "could not connect\nDETAIL: second line")]
    table = freshness_table(assess(rows, {"database_size": 300, "database_stats": 60,
                                          "connections": 15}, NOW, 3.0))
    assert table.to_dict("records") == [
        {"": "🔴", "Metric group": "database_size", "Status": "stale",
         "Last success (UTC)": "2026-03-01 11:18:00", "Age": "42 min ago", "Every": "5 min",
         "Last error": ""},
        {"": "🔴", "Metric group": "database_stats", "Status": "failing",
         "Last success (UTC)": "2026-03-01 11:53:20", "Age": "7 min ago", "Every": "1 min",
         "Last error": "could not connect"},
        {"": "⚪", "Metric group": "connections", "Status": "never", "Last success (UTC)": "—",
         "Age": "never", "Every": "15 s", "Last error": ""},
    ]


def test_errors_shown_in_the_table_are_redacted() -> None:
    rows = [FreshnessRow("connections", ago(1), None,
                         "could not connect to postgresql://mon:s3cret@db:5432/kasho")]
    table = freshness_table(assess(rows, {"connections": 15}, NOW, 3.0))
    assert table.loc[0, "Last error"] == "could not connect to postgresql://mon:***@db:5432/kasho"
