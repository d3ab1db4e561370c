"""I/O and checkpoints page logic and charts (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard.features.io import charts, logic

T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)


def checkpoints(backend: list[float | None]) -> pd.DataFrame:
    n = len(backend)
    return pd.DataFrame({
        "collected_at": [T0 + timedelta(minutes=i) for i in range(n)],
        "num_timed": [1.0] * n, "num_requested": [0.0, 3.0][:n] + [0.0] * (n - 2),
        "write_time_ms": [1500.0] * n, "sync_time_ms": [20.0] * n,
        "buffers_written": [100.0] * n, "buffers_clean": [10.0] * n,
        "buffers_backend": backend, "buffers_alloc": [5.0] * n, "seconds": [60.0] * n})


def io_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "collected_at": [T0, T0, T0],
        "backend_type": ["client backend", "checkpointer", "autovacuum worker"],
        "read_bytes": [8192.0, 0.0, 0.0], "write_bytes": [0.0, 819200.0, 0.0],
        "extend_bytes": [0.0, 0.0, 0.0], "relation_writes": [30.0, 100.0, 10.0],
        "read_time_ms": [1.0, 0.0, 0.0], "write_time_ms": [0.0, 2.0, 0.0]})


def test_summary_counts_requested_share() -> None:
    summary = logic.checkpoint_summary(checkpoints([1.0, 1.0]))
    assert summary is not None
    assert (summary.timed, summary.requested) == (2.0, 3.0)
    assert summary.requested_share == 0.6
    assert summary.write_seconds == 3.0 and summary.sync_seconds == 0.04
    assert logic.checkpoint_summary(checkpoints([])) is None


def test_backend_writes_come_from_bgwriter_before_17_and_pg_stat_io_after() -> None:
    before_17 = logic.buffers_by_writer(checkpoints([7.0, 3.0]), io_frame())
    assert before_17.groupby("writer")["buffers"].sum().to_dict() == {
        "background writer": 20.0, "backends": 10.0, "checkpointer": 200.0}
    from_17 = logic.buffers_by_writer(checkpoints([None, None]), io_frame())
    # client backend 30 + autovacuum worker 10; the checkpointer's own 100 are not backends
    assert from_17.groupby("writer")["buffers"].sum().to_dict() == {
        "background writer": 20.0, "backends": 40.0, "checkpointer": 200.0}
    assert logic.backend_write_share(from_17) == 40.0 / 260.0


def test_io_table_drops_idle_rows_and_orders_by_bytes_moved() -> None:
    totals = pd.DataFrame({
        "backend_type": ["client backend", "checkpointer", "walsender"],
        "object": ["relation"] * 3, "context": ["normal"] * 3,
        "reads": [10.0, 0.0, None], "read_bytes": [81920.0, 0.0, None],
        "read_time_ms": [1.0, 0.0, None], "writes": [0.0, 100.0, None],
        "write_bytes": [0.0, 819200.0, None], "write_time_ms": [0.0, 3.0, None],
        "extends": [0.0, 0.0, None], "extend_bytes": [0.0, 0.0, None],
        "hits": [90.0, 0.0, None], "evictions": [0.0, 0.0, None],
        "reuses": [None, None, None], "fsyncs": [0.0, 4.0, None],
        "fsync_time_ms": [0.0, 1.0, None]})
    table = logic.io_table(totals)
    assert list(table["backend type"]) == ["checkpointer", "client backend"]
    assert list(table["written"]) == ["800 kB", "0 bytes"]
    assert table.loc[1, "hit ratio"] == 0.9


def test_charts_draw_what_is_there_and_nothing_when_empty() -> None:
    history = checkpoints([1.0, 1.0])
    fig = charts.checkpoints_figure(history)
    assert fig is not None and [t.name for t in fig.data] == ["timed", "requested"]
    assert list(fig.data[1].y) == [0.0, 3.0]
    assert charts.checkpoints_figure(history.iloc[0:0]) is None
    fig = charts.io_bytes_figure(io_frame(), "write_bytes", "written")
    assert fig is not None and [t.name for t in fig.data] == ["checkpointer"]
    assert charts.io_bytes_figure(io_frame().assign(write_bytes=0.0), "write_bytes", "w") is None
    buffers = logic.buffers_by_writer(history, io_frame())
    fig = charts.buffers_figure(buffers)
    assert fig is not None and {t.name for t in fig.data} == {
        "checkpointer", "background writer", "backends"}
