"""Storage page logic: the forecast in words and how sure it is, growth tables, disk reads
across a statistics reset, buffer names, what per-table history covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard.core.relations import range_days, range_delta
from dashboard.features.storage import logic

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
GIB = 2**30


def forecast_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "basis": "configured capacity", "capacity_bytes": 100 * GIB, "used_bytes": 60 * GIB,
        "free_bytes": 40 * GIB, "samples": 500, "history_hours": 96.0, "r2": 0.97,
        "growth_bytes_per_day": 2 * GIB, "growth_low_bytes_per_day": 1.8 * GIB,
        "growth_high_bytes_per_day": 2.2 * GIB, "status": "forecast", "days_to_full": 20.0,
        "full_at": NOW + timedelta(days=20), "full_at_earliest": NOW + timedelta(days=18),
        "full_at_latest": NOW + timedelta(days=22), "confidence": "high"}
    row.update(overrides)
    return row


def texts(*rows: dict[str, object], note: str | None = None) -> list[logic.ForecastText]:
    capacity = pd.DataFrame([{"filesystem_note": note}])
    return logic.forecast_texts(pd.DataFrame(list(rows)), capacity)


def test_a_steady_forecast_gives_the_date_its_range_and_confidence() -> None:
    configured, host = texts(forecast_row(), note="not measured: host_filesystem is off")
    assert configured.headline == "Full around 2026-05-24"
    assert configured.detail.startswith("In 20.0 days (earliest 2026-05-22, latest 2026-05-26)")
    assert "60.0 GB of 100 GB used" in configured.detail
    assert "+2.0 GB/day (between +1.8 GB/day and +2.2 GB/day)" in configured.detail
    assert configured.confidence == "high: r² 0.97 over 4.0 days of history, 500 samples"
    assert (configured.severity, configured.short) == ("warning", "in 20 days")
    assert (host.headline, host.severity) == ("Not measured", "unknown")
    assert host.detail == "not measured: host_filesystem is off"


def test_too_little_history_is_never_extrapolated() -> None:
    (configured, _host) = texts(forecast_row(status="insufficient history", history_hours=5.0,
                                             samples=60, days_to_full=None))
    assert configured.headline == "Not forecast yet" and configured.severity == "unknown"
    assert "5 h of history, 60 samples" in configured.detail
    assert "at least 24 h" in configured.detail


def test_a_far_forecast_is_called_too_far_rather_than_dated() -> None:
    (configured, _) = texts(forecast_row(days_to_full=400.0, history_hours=48.0))
    assert configured.headline == "Not within 20 days"
    assert "too far to call" in configured.detail and configured.severity == "ok"


def test_the_latest_date_may_be_never_and_no_capacity_says_how_to_set_it() -> None:
    (configured, _) = texts(forecast_row(full_at_latest=None))
    assert "latest never at the slowest rate the history allows" in configured.detail
    (missing, _) = texts()
    assert missing.headline == "No capacity configured"
    assert "disk_capacity_bytes" in missing.detail


def test_the_growth_tile_shows_the_fitted_rate_with_or_without_a_capacity() -> None:
    assert logic.growth_text(pd.Series(forecast_row(enough_history=True))) == "+2.0 GB/day"
    no_capacity = forecast_row(status="no capacity configured", capacity_bytes=None,
                               enough_history=True)
    assert logic.growth_text(pd.Series(no_capacity)) == "+2.0 GB/day"
    short = forecast_row(status="insufficient history", enough_history=False)
    assert logic.growth_text(pd.Series(short)) == "—"
    assert logic.growth_text(None) == "—"


def test_the_tile_shows_the_sooner_forecast() -> None:
    soon = logic.ForecastText("host filesystem", "Full around x", "", "", "critical", 3.0)
    later = logic.ForecastText("configured capacity", "Full around y", "", "", "warning", 20.0)
    unknown = logic.ForecastText("configured capacity", "No capacity", "", "", "unknown")
    assert logic.soonest([later, soon]) is soon
    assert logic.soonest([unknown, later]) is later


def tracked(**columns: list[object]) -> pd.DataFrame:
    base: dict[str, list[object]] = {
        "schemaname": ["public", "public"], "relname": ["transactions", "accounts"],
        "collected_at": [NOW, NOW], "first_collected_at": [NOW - timedelta(days=2), pd.NaT],
        "total_bytes": [30 * GIB, GIB], "first_total_bytes": [28 * GIB, np.nan],
        "heap_bytes": [20 * GIB, GIB], "toast_bytes": [0, 0], "indexes_bytes": [10 * GIB, 0],
        "n_live_tup": [1e8, 2e4], "tracked_because": [["size", "writes"], ["vacuum"]]}
    base.update(columns)
    return pd.DataFrame(base)


def test_table_sizes_and_growth_per_day_over_the_range() -> None:
    table = logic.table_sizes(tracked())
    assert list(table["table"]) == ["public.transactions", "public.accounts"]
    assert table.loc[0, "growth per day"] == pytest.approx(GIB)
    assert pd.isna(table.loc[1, "growth per day"])  # one sample in range: unknown, not 0
    assert table.loc[0, "tracked because"] == "largest, most written"
    assert table.loc[1, "tracked because"] == "needs vacuum"
    growing = logic.fastest_growing(tracked())
    assert list(growing["table"]) == ["public.transactions"]


def test_counters_across_a_statistics_reset_are_unknown_not_negative() -> None:
    frame = pd.DataFrame({"heap_blks_read": [100.0, 900.0], "first_heap_blks_read": [500.0, 100.0],
                          "collected_at": [NOW, NOW],
                          "first_collected_at": [NOW - timedelta(hours=1)] * 2})
    delta = range_delta(frame, "heap_blks_read")
    assert pd.isna(delta[0]) and delta[1] == 800
    assert range_days(frame).tolist() == pytest.approx([1 / 24, 1 / 24])


def test_disk_reads_rank_tables_and_fall_back_to_totals_since_the_reset() -> None:
    frame = tracked(**{
        "heap_blks_read": [5000, 40], "first_heap_blks_read": [1000, np.nan],
        "heap_blks_hit": [99_000, 960], "first_heap_blks_hit": [3000, np.nan],
        "idx_blks_read": [0, 0], "first_idx_blks_read": [0, np.nan],
        "idx_blks_hit": [0, 0], "first_idx_blks_hit": [0, np.nan],
        "toast_blks_read": [0, 0], "first_toast_blks_read": [0, np.nan],
        "toast_blks_hit": [0, 0], "first_toast_blks_hit": [0, np.nan]})
    reads = logic.disk_reads(frame)
    assert list(reads["table"]) == ["public.transactions", "public.accounts"]
    assert reads.loc[0, "read from disk"] == 4000 * 8192
    assert reads.loc[0, "heap hit ratio"] == pytest.approx(96_000 / 100_000)
    assert reads.loc[0, "over"] == "the range"
    assert reads.loc[1, "over"] == "since stats reset"
    assert reads.loc[1, "heap hit ratio"] == pytest.approx(0.96)


def test_database_and_schema_growth() -> None:
    frame = pd.DataFrame({"name": ["kasho", "postgres"], "size_bytes": [10 * GIB, 8e6],
                          "first_size_bytes": [9 * GIB, 8e6], "collected_at": [NOW, NOW],
                          "first_collected_at": [NOW - timedelta(days=4)] * 2})
    table = logic.sizes_with_growth(frame, "database")
    assert table.loc[0, "per day"] == pytest.approx(GIB / 4)
    text = logic.as_text(table)
    assert text.loc[0, "size"] == "10.0 GB" and text.loc[0, "per day"] == "+256 MB/day"


def test_buffer_cache_names_other_databases_and_free_buffers_plainly() -> None:
    buffers = pd.DataFrame({
        "datname": ["kasho", "reporting", ""], "schemaname": ["public", "(other database)",
                                                              "(unused)"],
        "relname": ["accounts", "(all relations)", "(free buffers)"], "relkind": ["r", "", ""],
        "bytes": [8192e3, 4096e3, 1024e3], "percent_of_cache": [50.0, 25.0, 6.25],
        "dirty_buffers": [10, 0, 0], "average_usage": [3.5, 1.0, 0.0]})
    table = logic.buffer_cache_table(buffers)
    assert list(table["relation"]) == ["public.accounts", "database reporting (all of it)",
                                       "free buffers"]
    assert table.loc[0, "share of cache"] == 0.5 and table.loc[0, "kind"] == "table"


def test_the_tracking_note_says_how_many_and_which() -> None:
    summary = pd.DataFrame([{"tables": 10_000}])
    note = logic.tracking_note(50, 212, summary)
    assert note.startswith("Per-table history is kept for 212 of 10,000 tables: the 50 largest")
    assert "[collector] top_tables" in note
