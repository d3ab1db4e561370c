"""Chart builders: real figures from small frames, None for empty ones, one shared look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from dashboard.core import figures
from dashboard.features.overview import charts
from dashboard.features.overview.logic import transaction_rates

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = (T0 - timedelta(hours=1), T0 + timedelta(minutes=10))
GIB = 1024**3
MIB = 1024**2


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sizes_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "collected_at": [at(0), at(0), at(5), at(5)],
        "datname": ["kasho", "postgres", "kasho", "postgres"],
        "size_bytes": [2 * GIB, 8 * MIB, 2 * GIB + 512 * MIB, 8 * MIB],
    })


def stats_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "collected_at": [at(0), at(0), at(1)],
        "interval_seconds": [60.0, 60.0, 30.0],
        "xact_commit": [600.0, 300.0, 150.0],
        "xact_rollback": [6.0, 0.0, 3.0],
        "blks_hit": [990.0, 0.0, 0.0],
        "blks_read": [10.0, 0.0, 0.0],
    })


def assert_common_look(fig, title: str, y_title: str) -> None:
    layout = fig.layout
    assert layout.title.text == title
    assert layout.height == figures.CHART_HEIGHT
    assert layout.yaxis.title.text == y_title
    assert layout.xaxis.title.text == "time (UTC)"
    assert layout.hovermode == "x unified"
    assert [pd.Timestamp(v) for v in layout.xaxis.range] == [
        pd.Timestamp(WINDOW[0]).tz_localize(None), pd.Timestamp(WINDOW[1]).tz_localize(None)]


@pytest.mark.parametrize("build", [
    lambda: charts.database_size_figure(sizes_frame().iloc[0:0], WINDOW),
    lambda: charts.connections_figure(pd.DataFrame(columns=["collected_at", "state",
                                                            "connections"]),
                                      pd.DataFrame(columns=["collected_at",
                                                            "max_connections"]), WINDOW),
    lambda: charts.transactions_figure(stats_frame().iloc[0:0], WINDOW),
    lambda: charts.cache_hit_figure(stats_frame().iloc[0:0], WINDOW),
])
def test_empty_frames_give_no_figure(build) -> None:
    assert build() is None


def test_database_size_lines_per_database_in_a_readable_unit() -> None:
    fig = charts.database_size_figure(sizes_frame(), WINDOW)
    assert_common_look(fig, "Database size", "size (GB)")
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name) == ["kasho", "postgres"]  # largest first
    assert list(by_name["kasho"].y) == [2.0, 2.5]
    assert list(by_name["postgres"].y) == [pytest.approx(8 / 1024)] * 2
    assert list(by_name["kasho"].x) == [pd.Timestamp("2026-03-01 10:00"),
                                       pd.Timestamp("2026-03-01 10:05")]  # naive UTC
    assert "GB" in by_name["kasho"].hovertemplate


def test_database_size_sums_the_small_databases_beyond_top() -> None:
    frame = pd.DataFrame({"collected_at": [at(0)] * 4, "datname": ["a", "b", "c", "d"],
                          "size_bytes": [400 * MIB, 300 * MIB, 2 * MIB, 1 * MIB]})
    fig = charts.database_size_figure(frame, top=2)
    assert [t.name for t in fig.data] == ["a", "b", "other (2 databases)"]
    assert fig.layout.yaxis.title.text == "size (MB)"
    assert list(fig.data[2].y) == [3.0]


def test_connections_stack_states_in_a_fixed_order_with_max_connections_line() -> None:
    connections = pd.DataFrame({
        "collected_at": [at(0), at(0), at(0), at(1)],
        "state": ["idle", "active", "idle in transaction", "active"],
        "connections": [10.0, 4.0, 1.0, 6.0],
    })
    limits = pd.DataFrame({"collected_at": [at(1), at(0)], "max_connections": [100.0, 100.0]})
    fig = charts.connections_figure(connections, limits, WINDOW)
    assert_common_look(fig, "Connections by state", "connections")
    names = [t.name for t in fig.data]
    assert names == ["active", "idle", "idle in transaction", "max_connections"]
    by_name = {t.name: t for t in fig.data}
    # A state missing from a sample counts as 0, so the stack never interpolates over it.
    assert list(by_name["idle"].y) == [10.0, 0.0]
    assert list(by_name["active"].y) == [4.0, 6.0]
    assert {by_name[s].stackgroup for s in names[:3]} == {"states"}
    assert by_name["max_connections"].stackgroup is None
    assert by_name["max_connections"].line.dash == "dash"
    assert list(by_name["max_connections"].y) == [100.0, 100.0]
    assert fig.layout.yaxis.rangemode == "tozero"


def test_connections_without_limits_still_draw() -> None:
    connections = pd.DataFrame({"collected_at": [at(0)], "state": ["active"],
                                "connections": [3.0]})
    fig = charts.connections_figure(connections, pd.DataFrame(columns=["collected_at",
                                                                       "max_connections"]))
    assert [t.name for t in fig.data] == ["active"]


def test_transactions_per_second_from_deltas_and_intervals() -> None:
    rates = transaction_rates(stats_frame())
    assert rates.to_dict("records") == [
        {"collected_at": at(0), "commits_per_second": 15.0, "rollbacks_per_second": 0.1},
        {"collected_at": at(1), "commits_per_second": 5.0, "rollbacks_per_second": 0.1},
    ]
    fig = charts.transactions_figure(stats_frame(), WINDOW)
    assert_common_look(fig, "Transactions per second", "transactions/s")
    assert [t.name for t in fig.data] == ["commits/s", "rollbacks/s"]
    assert list(fig.data[0].y) == [15.0, 5.0]


def test_cache_hit_ratio_leaves_gaps_where_no_blocks_were_touched() -> None:
    fig = charts.cache_hit_figure(stats_frame(), WINDOW)
    assert_common_look(fig, "Cache hit ratio", "hit ratio (%)")
    values = list(fig.data[0].y)
    assert values[0] == 99.0
    assert pd.isna(values[1])
    assert fig.layout.showlegend is False
    assert fig.layout.yaxis.range == (90.0, 100.5)


def test_cache_hit_ratio_without_any_block_access_is_no_figure() -> None:
    idle = stats_frame().assign(blks_hit=0.0, blks_read=0.0)
    assert charts.cache_hit_figure(idle) is None
