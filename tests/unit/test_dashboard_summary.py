"""Headline metrics, unit formatting and the time window: pure, exact values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from collectors.core.config import parse_config
from dashboard.core.context import bucket_seconds, build_context, time_window
from dashboard.core.units import byte_unit, format_age, format_bytes, format_interval, format_rate
from dashboard.features.overview.logic import Headline, headline, headline_tiles

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MIB = 1024**2


def test_headline_from_frames() -> None:
    sizes = pd.DataFrame({"collected_at": [T0, T0, T0 + timedelta(minutes=5)],
                          "datname": ["kasho", "postgres", "kasho"],
                          "size_bytes": [1000 * MIB, 8 * MIB, 1100 * MIB]})
    limits = pd.DataFrame({"collected_at": [T0 + timedelta(minutes=1), T0],
                           "max_connections": [200.0, 200.0],
                           "client_connections": [49.6, 10.0]})
    stats = pd.DataFrame({"collected_at": [T0, T0 + timedelta(minutes=1)],
                          "interval_seconds": [60.0, 60.0],
                          "xact_commit": [600.0, 1140.0], "xact_rollback": [0.0, 60.0],
                          "blks_hit": [9000.0, 9900.0], "blks_read": [1000.0, 100.0]})
    result = headline(sizes, limits, stats)
    # The latest sample has only kasho: totals are per sample time.
    assert result == Headline(total_size_bytes=1100 * MIB, size_growth_bytes=92 * MIB,
                              connections=50, max_connections=200,
                              transactions_per_second=20.0, transactions_per_second_avg=15.0,
                              cache_hit_percent=94.5, cache_hit_lowest_percent=90.0)
    assert result.connections_percent == 25.0
    tiles = {t.label: t for t in headline_tiles(result)}
    assert (tiles["Database size"].value, tiles["Database size"].delta) == (
        "1.1 GB", "+92.0 MB in range")
    assert (tiles["Connections"].value, tiles["Connections"].delta,
            tiles["Connections"].delta_color) == ("50 / 200", "25% of max_connections", "green")
    assert (tiles["Transactions/s"].value, tiles["Transactions/s"].delta) == (
        "20.0/s", "avg 15.0/s in range")
    assert (tiles["Cache hit ratio"].value, tiles["Cache hit ratio"].delta,
            tiles["Cache hit ratio"].delta_color) == ("94.50 %", "lowest 90.0 %", "orange")


def test_headline_without_data_shows_dashes() -> None:
    empty = pd.DataFrame(columns=["collected_at"])
    result = headline(empty.assign(datname=[], size_bytes=[]),
                      empty.assign(max_connections=[], client_connections=[]),
                      empty.assign(interval_seconds=[], xact_commit=[], xact_rollback=[],
                                   blks_hit=[], blks_read=[]))
    assert result == Headline(None, None, None, None, None, None, None, None)
    assert [t.value for t in headline_tiles(result)] == ["—"] * 4


@pytest.mark.parametrize(("percent", "color"), [(74.9, "green"), (75, "orange"), (90, "red")])
def test_connection_usage_colour(percent: float, color: str) -> None:
    tiles = headline_tiles(Headline(None, None, int(percent * 10), 1000, None, None, None))
    assert tiles[1].delta_color == color


def test_units() -> None:
    assert byte_unit(0) == ("bytes", 1)
    assert byte_unit(1023) == ("bytes", 1)
    assert byte_unit(1024) == ("kB", 1024)
    assert byte_unit(5 * 1024**3) == ("GB", 1024**3)
    assert format_bytes(1536) == "1.5 kB"
    assert format_bytes(512) == "512 bytes"
    assert format_bytes(250 * MIB) == "250 MB"
    assert format_bytes(100 * MIB, signed=True) == "+100 MB"
    assert format_bytes(-3 * 1024, signed=True) == "-3.0 kB"
    assert format_bytes(0, signed=True) == "+0 bytes"
    assert format_rate(1234.4) == "1,234/s"
    assert format_rate(12.34) == "12.3/s"
    assert format_rate(0.5) == "0.50/s"
    assert [format_age(s) for s in (None, -1, 42, 420, 7200, 3 * 86400)] == [
        "never", "0 s ago", "42 s ago", "7 min ago", "2 h ago", "3 d ago"]
    assert [format_interval(s) for s in (15, 90, 300, 3600, 5400)] == [
        "15 s", "90 s", "5 min", "1 h", "90 min"]


def test_time_window_ends_on_the_next_step_and_spans_the_range() -> None:
    now = datetime(2026, 3, 1, 10, 0, 1, tzinfo=UTC)
    assert time_window("1h", now) == (datetime(2026, 3, 1, 9, 0, 30, tzinfo=UTC),
                                      datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC))
    on_step = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    assert time_window("15m", on_step)[1] == on_step
    assert [bucket_seconds(r) for r in ("15m", "1h", "6h", "24h", "7d", "30d")] == [
        2, 10, 60, 240, 1680, 7200]


def test_build_context() -> None:
    config = parse_config({"store": {"dsn": "host=127.0.0.1 dbname=store"},
                           "targets": [{"name": "kasho-primary", "dsn": "host=127.0.0.1"}]},
                          environ={})
    context = build_context(config, "kasho-primary", "24h", now=T0)
    assert (context.target, context.range, context.range_label) == (
        "kasho-primary", "24h", "Last 24 hours")
    assert context.end - context.start == timedelta(hours=24)
    assert context.bucket_seconds == 240
