"""Storage and Maintenance chart builders: traces, limits, the forecast's line, names kept
as text, None without data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboard.core.figures import plotly_text
from dashboard.features.maintenance import charts as maintenance_charts
from dashboard.features.maintenance.logic import XID_STOP_AGE, WraparoundText
from dashboard.features.storage import charts, logic

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
GIB = 2**30


def disk_history(hours: int = 24) -> pd.DataFrame:
    times = [NOW - timedelta(hours=h) for h in range(hours, -1, -1)]
    return pd.DataFrame({"collected_at": times,
                         "used_bytes": [50 * GIB + h * 2**27 for h in range(len(times))],
                         "wal_bytes": [GIB] * len(times)})


def test_disk_usage_has_used_wal_capacity_and_the_forecast_line() -> None:
    forecast = pd.Series({"status": "forecast", "enough_history": True,
                          "capacity_bytes": 100 * GIB, "used_bytes": 53 * GIB,
                          "growth_bytes_per_day": 3 * GIB, "full_at": NOW + timedelta(days=15)})
    x_range = (NOW - timedelta(days=1), NOW)
    fig = charts.disk_usage_figure(disk_history(), forecast, x_range)
    assert fig is not None
    names = [t.name for t in fig.data]
    assert names == ["used (tablespaces + WAL)", "WAL", "forecast", "capacity"]
    forecast_trace = fig.data[2]
    # a quarter of the range ahead: +6 h at 3 GiB/day = +0.75 GiB, in GB on the axis
    assert forecast_trace.y[1] - forecast_trace.y[0] == pytest.approx(0.75)
    assert fig.data[3].y[0] == pytest.approx(100)
    assert fig.layout.title.text == "Disk usage"


def test_disk_usage_without_a_forecast_draws_no_line_and_empty_is_none() -> None:
    fig = charts.disk_usage_figure(disk_history(), pd.Series({
        "status": "insufficient history", "capacity_bytes": None}), None)
    assert fig is not None and [t.name for t in fig.data] == ["used (tablespaces + WAL)", "WAL"]
    assert charts.disk_usage_figure(pd.DataFrame(), None, None) is None


def test_disk_usage_draws_the_fitted_growth_without_a_capacity_to_forecast_against() -> None:
    fitted = {"status": "no capacity configured", "enough_history": True,
              "capacity_bytes": None, "used_bytes": 53 * GIB, "growth_bytes_per_day": 3 * GIB,
              "full_at": None}
    fig = charts.disk_usage_figure(disk_history(), pd.Series(fitted), None)
    assert fig is not None
    assert [t.name for t in fig.data] == ["used (tablespaces + WAL)", "WAL", "forecast"]
    shrinking = pd.Series({**fitted, "growth_bytes_per_day": -GIB})
    short = pd.Series({**fitted, "enough_history": False})
    for forecast in (shrinking, short):
        fig = charts.disk_usage_figure(disk_history(), forecast, None)
        assert fig is not None and "forecast" not in [t.name for t in fig.data]


def test_table_sizes_chart_keeps_hostile_names_as_text() -> None:
    history = pd.DataFrame({"collected_at": [NOW, NOW], "schemaname": ["public", "public"],
                            "relname": ["<a href='x'>t</a>", "accounts"],
                            "total_bytes": [3e9, 1e9]})
    fig = charts.table_size_figure(history)
    assert fig is not None
    assert [t.name for t in fig.data] == ["public.&lt;a href='x'&gt;t&lt;/a&gt;",
                                          "public.accounts"]
    assert plotly_text("a & b") == "a &amp; b"


def test_buffer_cache_bars() -> None:
    table = logic.buffer_cache_table(pd.DataFrame({
        "datname": ["kasho"] * 2, "schemaname": ["public"] * 2,
        "relname": ["transactions", "accounts"], "relkind": ["r", "i"],
        "bytes": [64e6, 8e6], "percent_of_cache": [50.0, 6.25], "dirty_buffers": [0, 1],
        "average_usage": [4.0, 2.0]}))
    fig = charts.buffer_cache_figure(table)
    assert fig is not None and list(fig.data[0].y) == ["public.accounts", "public.transactions"]
    assert charts.buffer_cache_figure(logic.buffer_cache_table(pd.DataFrame())) is None


def test_wraparound_gauge_ends_at_the_stop_limit_with_ticks_at_the_limits() -> None:
    text = WraparoundText("kasho", 157_300_000, 0.07, "no emergency within 10 days", "", "",
                          "ok")
    fig = maintenance_charts.wraparound_gauge(text, 200_000_000, 1_600_000_000)
    indicator = fig.data[0]
    assert indicator.value == pytest.approx(157.3)
    assert indicator.gauge.axis.range == (0, XID_STOP_AGE / 1e6)
    assert list(indicator.gauge.axis.tickvals) == pytest.approx(
        [0, 200, 1600, XID_STOP_AGE / 1e6])
    assert indicator.gauge.bar.color == maintenance_charts.SEVERITY_COLORS["ok"]


def test_xid_age_history_draws_the_freeze_limit() -> None:
    history = pd.DataFrame({"collected_at": [NOW, NOW, NOW + timedelta(minutes=1)],
                            "datname": ["kasho", "postgres", "kasho"],
                            "xid_age": [1.5e8, 1e6, 1.51e8]})
    fig = maintenance_charts.xid_age_figure(history, 200_000_000)
    assert fig is not None and [t.name for t in fig.data] == ["kasho", "postgres"]
    assert fig.layout.shapes[0].y0 == pytest.approx(200)
    assert maintenance_charts.xid_age_figure(pd.DataFrame(), None) is None
