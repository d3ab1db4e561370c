"""Kasho Ops page logic (pure): sizes with retention, daily rate, growth forecast."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from dashboard.features.kasho_ops import charts, logic

TODAY = date(2026, 3, 10)
MIB = 1024.0**2


def sizes() -> pd.DataFrame:
    rows = []
    for back in range(5):  # query_stats: 5 days held, 100 MiB a full day, today half
        rows.append(("query_stats", TODAY - timedelta(days=back), 50 * MIB if back == 0
                     else 100 * MIB))
    rows.append(("connections", TODAY - timedelta(days=1), 10 * MIB))
    rows.append(("connections", TODAY, 4 * MIB))
    return pd.DataFrame(rows, columns=["table_name", "day", "bytes"])


def retention(table: str) -> int:
    return {"query_stats": 3}.get(table, 30)


def test_daily_rate_uses_the_last_full_days() -> None:
    rates = logic.daily_rate(sizes(), TODAY)
    assert rates["query_stats"] == 100 * MIB
    assert rates["connections"] == 10 * MIB


def test_size_table_shows_retention_and_steady_state() -> None:
    table = logic.size_table(sizes(), retention, TODAY).set_index("table")
    assert table.loc["query_stats", "retention (days)"] == 3
    assert table.loc["query_stats", "steady_bytes"] == 300 * MIB
    assert table.loc["connections", "steady_bytes"] == 300 * MIB
    assert table.loc["query_stats", "days held"] == 5


def test_forecast_grows_until_each_window_is_full_then_stays_flat() -> None:
    forecast = logic.growth_forecast(sizes(), 1 * MIB, retention, TODAY, horizon_days=40)
    by_day = dict(zip(forecast["day"], forecast["bytes"], strict=True))
    # query_stats already holds more than 3 days: at steady state (300 MiB) from today;
    # connections holds 2 of 30 days: 14 MiB now, +10 MiB a day for 28 days, then flat.
    assert by_day[TODAY] == 1 * MIB + 300 * MIB + 14 * MIB
    assert by_day[TODAY + timedelta(days=28)] == 1 * MIB + 300 * MIB + 294 * MIB
    assert by_day[TODAY + timedelta(days=40)] == by_day[TODAY + timedelta(days=28)]
    figure = charts.forecast_figure(forecast, 601 * MIB)
    assert figure is not None


def test_runs_table_puts_failing_groups_first() -> None:
    stats = pd.DataFrame({
        "metric_group": ["connections", "query_stats"], "runs": [100.0, 10.0],
        "failed": [0.0, 5.0], "targets": [2.0, 2.0], "rows_written": [500.0, 90.0],
        "duration_p50_ms": [3.0, 40.0], "duration_p95_ms": [5.0, 90.0],
        "duration_max_ms": [9.0, 120.0], "lateness_p50_ms": [1.0, 2.0],
        "lateness_p95_ms": [4.0, 8.0], "lateness_max_ms": [10.0, 20.0]})
    table = logic.runs_table(stats)
    assert list(table["group"]) == ["query_stats", "connections"]
    assert list(table["failed %"]) == [50.0, 0.0]


def test_charts_keep_to_a_readable_number_of_series() -> None:
    many = pd.DataFrame([(f"t{i:02d}", TODAY, float(i)) for i in range(12)],
                        columns=["table_name", "day", "bytes"])
    figure = charts.store_size_figure(many)
    assert figure is not None
    names = [t.name for t in figure.data]
    assert len(names) == charts.SHOWN and names[-1] == "other tables"
    assert names[0] == "t11"
