"""PgBouncer section of the Connections page: saturation, pools table, averages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard.features.connections import pooling_charts, pooling_logic

T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def latest() -> pd.DataFrame:
    return pd.DataFrame({
        "collected_at": [T0, T0], "database": ["kasho", "reports"], "usename": ["app", "bi"],
        "pool_mode": ["transaction", None], "cl_active": [20, 1], "cl_waiting": [3, 0],
        "sv_active": [10, 1], "sv_idle": [0, 2], "sv_used": [0, 0], "sv_tested": [0, 0],
        "sv_login": [0, 0], "maxwait_seconds": [1.25, 0.0], "pool_size": [10, 5],
        "max_connections": [0, 0]})


def test_pools_are_ordered_by_saturation_and_the_headline_names_the_busiest() -> None:
    table = pooling_logic.pools_table(latest())
    assert list(table["pool"]) == ["kasho/app", "reports/bi"]
    assert list(table["saturation"]) == [1.0, 0.2]
    headline = pooling_logic.pool_headline(table)
    assert headline is not None
    assert (headline.busiest_pool, headline.saturation, headline.clients_waiting,
            headline.longest_wait_seconds) == ("kasho/app", 1.0, 3, 1.25)
    assert pooling_logic.pool_headline(pooling_logic.pools_table(latest().iloc[0:0])) is None


def test_average_times_weight_by_count_and_skip_empty_buckets() -> None:
    timings = pd.DataFrame({
        "collected_at": [T0, T0, T0 + timedelta(minutes=1)], "database": ["a", "b", "a"],
        "queries": [100.0, 300.0, 0.0], "transactions": [50.0, 150.0, 0.0],
        "query_time_us": [100_000.0, 300_000.0, 0.0], "xact_time_us": [400_000.0, 0.0, 0.0],
        "wait_time_us": [40_000.0, 0.0, 0.0]})
    averages = pooling_logic.average_times(timings)
    assert len(averages) == 1
    row = averages.iloc[0]
    assert (row["avg query (ms)"], row["avg transaction (ms)"], row["avg wait (ms)"]) == \
        (1.0, 2.0, 0.1)
    assert pooling_logic.overall_average_ms(timings, "query_time_us", "queries") == 1.0
    assert pooling_charts.timings_figure(averages) is not None


def test_charts_show_waiting_and_servers_per_pool() -> None:
    history = pd.DataFrame({
        "collected_at": [T0, T0], "pool": ["kasho/app", "reports/bi"],
        "cl_waiting": [3.0, 0.0], "maxwait_seconds": [1.25, 0.0], "cl_active": [20.0, 1.0],
        "sv_active": [10.0, 1.0], "sv_open": [10.0, 3.0]})
    waiting = pooling_charts.waiting_figure(history)
    assert waiting is not None and list(waiting.data[0].y) == [3.0]
    servers = pooling_charts.servers_figure(history)
    assert servers is not None and [t.name for t in servers.data] == [
        "kasho/app open", "kasho/app active", "reports/bi open", "reports/bi active"]
    assert pooling_charts.waiting_figure(history.iloc[0:0]) is None
