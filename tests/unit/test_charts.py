"""Overview chart builders: real figures from small frames on the bucket grid, None for
empty ones, one shared look (title alone on top, legend under the axis, counts on whole
numbers, gaps as named bands)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard.core import figures
from dashboard.core.timeseries import Collection, Gap
from dashboard.features.overview import charts, logic

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
WINDOW = (T0 - timedelta(hours=1), T0 + timedelta(minutes=10))
GIB = 1024**3
MIB = 1024**2


def at(minutes: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + timedelta(minutes=minutes))


def grid(*minutes: float, **columns: list[float]) -> pd.DataFrame:
    return pd.DataFrame(columns, index=pd.DatetimeIndex([at(m) for m in minutes]))


def assert_common_look(fig, title: str, y_title: str) -> None:  # type: ignore[no-untyped-def]
    layout = fig.layout
    assert layout.title.text == title
    assert layout.title.yref == "container" and layout.legend.yref == "container"
    assert layout.yaxis.title.text == y_title
    assert layout.xaxis.title.text == "time (UTC)"
    assert layout.hovermode == "x unified"
    assert [pd.Timestamp(v) for v in layout.xaxis.range] == [
        pd.Timestamp(WINDOW[0]).tz_localize(None), pd.Timestamp(WINDOW[1]).tz_localize(None)]


@pytest.mark.parametrize("build", [
    lambda: charts.database_growth_figure(pd.DataFrame(columns=[
        "collected_at", "datname", "size_bytes", "growth_bytes"]), "t", WINDOW),
    lambda: charts.connections_figure(pd.DataFrame(), None, (), WINDOW),
    lambda: charts.transactions_figure(grid(0, 1, commits_per_second=[np.nan, np.nan],
                                            rollbacks_per_second=[np.nan, np.nan]), (), WINDOW),
    lambda: charts.cache_hit_figure(grid(0, hit_percent=[np.nan]), (), WINDOW),
])
def test_empty_frames_give_no_figure(build) -> None:  # type: ignore[no-untyped-def]
    assert build() is None


def test_growth_makes_a_few_megabytes_on_gigabytes_visible() -> None:
    sizes = pd.DataFrame({"collected_at": [at(0), at(0), at(5), at(5)],
                          "datname": ["kasho", "postgres"] * 2,
                          "size_bytes": [2.0 * GIB, 8.0 * MIB, 2.0 * GIB + 12 * MIB, 8.0 * MIB]})
    fig = charts.database_growth_figure(logic.growth_frame(sizes), "Database growth", WINDOW)
    assert_common_look(fig, "Database growth", "growth (MB)")
    by_name = {trace.name: trace for trace in fig.data}
    assert list(by_name) == ["kasho", "postgres"]  # largest first
    assert list(by_name["kasho"].y) == [0.0, 12.0]
    assert list(by_name["postgres"].y) == [0.0, 0.0]
    assert list(by_name["kasho"].customdata) == [pytest.approx(2.0),
                                                 pytest.approx(2 + 12 / 1024)]  # GB on hover
    assert "GB" in by_name["kasho"].hovertemplate


def test_connections_stack_states_against_usable_with_whole_number_ticks() -> None:
    states = grid(0, 1, 2, active=[4.0, 6.0, np.nan], idle=[10.0, 0.0, np.nan],
                  **{"idle in transaction": [1.0, 0.0, np.nan]})
    usable = pd.Series([97.0, 97.0, 97.0], index=states.index)
    gap = Gap(at(1.5).to_pydatetime(), at(3).to_pydatetime())
    fig = charts.connections_figure(states, usable, (gap,), WINDOW)
    assert_common_look(fig, "Connections by state", "connections")
    names = [t.name for t in fig.data]
    assert names == ["active", "idle", "idle in transaction",
                     "usable (max_connections − reserved)", "no collection"]
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["idle"].customdata[:2]) == [10.0, 0.0]  # its own value on hover
    assert list(by_name["idle"].y[:2]) == [14.0, 6.0]  # stacked on active
    assert np.isnan(by_name["active"].y[2])  # the gap is a gap, not a zero
    assert by_name["usable (max_connections − reserved)"].line.dash == "dash"
    assert (fig.layout.yaxis.tickformat, fig.layout.yaxis.dtick) == (",d", 20)
    assert list(by_name["no collection"].customdata) == [gap.describe()]


def test_transactions_per_second_on_the_grid() -> None:
    stats = pd.DataFrame({"collected_at": [at(0), at(0), at(1)],
                          "interval_seconds": [60.0, 60.0, 30.0],
                          "xact_commit": [600.0, 300.0, 150.0],
                          "xact_rollback": [6.0, 0.0, 3.0]})
    assert logic.transaction_rates(stats).to_dict("records") == [
        {"collected_at": at(0), "commits_per_second": 15.0, "rollbacks_per_second": 0.1},
        {"collected_at": at(1), "commits_per_second": 5.0, "rollbacks_per_second": 0.1}]
    fig = charts.transactions_figure(grid(0, 1, commits_per_second=[15.0, 5.0],
                                          rollbacks_per_second=[0.1, 0.1]), (), WINDOW)
    assert_common_look(fig, "Transactions per second", "transactions/s")
    assert [t.name for t in fig.data] == ["commits/s", "rollbacks/s"]
    assert list(fig.data[0].y) == [15.0, 5.0]


def test_cache_hit_ratio_per_bucket_with_gaps_where_no_blocks_were_touched() -> None:
    c = Collection("database_stats", 60, 60, at(-1).to_pydatetime(), at(2).to_pydatetime(),
                   at(2).to_pydatetime(), {at(0): 1, at(1): 1}, (),
                   at(-60).to_pydatetime(), at(1).to_pydatetime())
    stats = pd.DataFrame({"collected_at": [at(0), at(1)], "blks_hit": [990.0, 0.0],
                          "blks_read": [10.0, 0.0]})
    hits = logic.hit_ratio_on_grid(stats, c)
    assert hits.loc[at(0), "hit_percent"] == 99.0
    assert np.isnan(hits.loc[at(1), "hit_percent"])
    fig = charts.cache_hit_figure(hits, (), WINDOW)
    assert_common_look(fig, "Cache hit ratio", "hit ratio (%)")
    assert fig.layout.showlegend is False
    assert fig.layout.yaxis.range == (90.0, 100.5)
    assert fig.layout.height == figures.CHART_HEIGHT
