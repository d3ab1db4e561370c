"""Headline tiles of the Overview, unit formatting and the time window: pure, exact values.
Every tile shows the latest value and says so; every change names its range; the lowest
value is never above the latest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from collectors.core.config import parse_config
from dashboard.core.context import bucket_seconds, build_context, time_window
from dashboard.core.units import byte_unit, format_age, format_bytes, format_interval, format_rate
from dashboard.core.utilization import Utilization, latest_utilization
from dashboard.features.overview import logic
from dashboard.features.overview.logic import Headline, headline_tiles

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MIB = 1024**2
START = T0 - timedelta(hours=6)


def summary(lowest: float | None = 96.66, latest_hit: float | None = 96.7) -> pd.DataFrame:
    return pd.DataFrame([{"latest_at": T0, "latest_tps": 20.0, "latest_hit_percent": latest_hit,
                          "average_tps": 15.0, "range_hit_percent": 97.5,
                          "lowest_hit_percent": lowest}])


def headline(**overrides: object) -> Headline:
    change = pd.DataFrame({"datname": ["kasho", "postgres"],
                           "first_at": [START + timedelta(minutes=5)] * 2,
                           "first_bytes": [1000.0 * MIB, 8.0 * MIB],
                           "last_at": [T0, T0], "last_bytes": [1100.0 * MIB, 8.0 * MIB]})
    values: dict[str, object] = {
        "size": logic.size_change(change),
        "utilization": Utilization(T0, 9, 100, 3), "own_sessions": 5,
        "stats": logic.stats_summary(summary()), "active_latest": 1.25, "active_peak": 3.5}
    values.update(overrides)
    return Headline(**values)  # type: ignore[arg-type]


def test_tiles_say_latest_and_name_the_range() -> None:
    tiles = {t.label: t for t in headline_tiles(headline(), "in last 6 h")}
    assert [(t.label, t.value, t.delta) for t in tiles.values()] == [
        ("Database size, latest", "1.1 GB", "+100 MB in last 6 h"),
        ("Connections, latest", "9 / 97", "9 % of usable"),
        ("Transactions/s, latest", "20.0/s", "avg 15.0/s in last 6 h"),
        ("Cache hit ratio, latest", "96.70 %", "low 96.66 % in last 6 h"),
        ("Active sessions, latest", "1.25", "peak 3.50 in last 6 h"),
    ]
    assert tiles["Connections, latest"].delta_color == "green"
    assert "5 of them are Kasho Ops' own" in str(tiles["Connections, latest"].help)
    assert "max_connections 100 minus 3 reserved" in str(tiles["Connections, latest"].help)
    assert tiles["Cache hit ratio, latest"].delta_color == "orange"


def test_growth_counts_from_the_first_sample_and_says_since_when_it_is_late() -> None:
    change = pd.DataFrame({"datname": ["kasho"], "first_at": [T0 - timedelta(minutes=20)],
                           "first_bytes": [1e6], "last_at": [T0], "last_bytes": [3e6]})
    late = headline(size=logic.size_change(change, T0 - timedelta(minutes=20),
                                           T0 - timedelta(days=7)))
    assert headline_tiles(late, "in last 7 days")[0].delta == "+1.9 MB since 09:40 UTC"
    earlier = headline(size=logic.size_change(change, T0 - timedelta(days=30),
                                              T0 - timedelta(days=7)))
    assert headline_tiles(earlier, "in last 7 days")[0].delta == "+1.9 MB in last 7 days"
    one = headline(size=logic.size_change(pd.DataFrame({
        "datname": ["kasho"], "first_at": [T0], "first_bytes": [1e6], "last_at": [T0],
        "last_bytes": [1e6]})))
    assert headline_tiles(one, "in last 7 days")[0].delta == "one sample so far"


def test_the_lowest_hit_ratio_is_never_shown_above_the_latest() -> None:
    # Both with two decimals: 96.66 % lowest, 96.70 % latest (not "96.7 %" above "96.66 %").
    tiles = headline_tiles(headline(), "in last 7 days")
    assert tiles[3].value == "96.70 %" and tiles[3].delta == "low 96.66 % in last 7 days"


def test_without_data_every_tile_shows_a_dash() -> None:
    empty = Headline(None, None, 0, None, None, None)
    assert [t.value for t in headline_tiles(empty, "in last 6 h")] == ["—"] * 5


@pytest.mark.parametrize(("used", "color"), [(72, "green"), (73, "orange"), (88, "red")])
def test_connection_usage_colour_against_usable(used: int, color: str) -> None:
    tiles = headline_tiles(headline(utilization=Utilization(T0, used, 100, 3)), "x")
    assert tiles[1].delta_color == color


def test_one_utilization_from_the_latest_sample_not_a_bucket_average() -> None:
    limits = pd.DataFrame({"collected_at": [T0, T0 - timedelta(seconds=15)],
                           "max_connections": [100, 100], "reserved_connections": [3, 3],
                           "client_connections": [9, 7]})
    assert latest_utilization(limits) == Utilization(T0, 9, 100, 3)


def test_store_database_is_left_out_of_sizes_unless_shown() -> None:
    sizes = pd.DataFrame({"collected_at": [T0] * 2, "datname": ["kasho", "kasho_ops"],
                          "size_bytes": [1.0, 2.0]})
    change = pd.DataFrame({"datname": ["kasho", "kasho_ops"]})
    shown, changes, hidden = logic.visible_sizes(sizes, change, frozenset({"kasho_ops"}), False)
    assert (shown["datname"].tolist(), changes["datname"].tolist(), hidden) == (
        ["kasho"], ["kasho"], 1)
    assert logic.visible_sizes(sizes, change, frozenset({"kasho_ops"}), True)[2] == 0


def test_growth_frame_is_relative_to_each_database_first_bucket() -> None:
    sizes = pd.DataFrame({"collected_at": [T0, T0, T0 + timedelta(minutes=5)],
                          "datname": ["a", "b", "a"], "size_bytes": [10.0, 5.0, 13.0]})
    assert logic.growth_frame(sizes)[["datname", "growth_bytes"]].values.tolist() == [
        ["a", 0.0], ["a", 3.0], ["b", 0.0]]


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
        3, 15, 90, 360, 2520, 10800]


def test_build_context() -> None:
    config = parse_config({"store": {"dsn": "host=127.0.0.1 dbname=store"},
                           "targets": [{"name": "kasho-primary", "dsn": "host=127.0.0.1"}],
                           "intervals": {"connections": 10}}, environ={})
    context = build_context(config, "kasho-primary", "24h", now=T0)
    assert (context.target, context.range, context.range_label, context.range_phrase) == (
        "kasho-primary", "24h", "Last 24 hours", "in last 24 h")
    assert context.end - context.start == timedelta(hours=24)
    assert context.bucket_for("connections") == 360  # 36 intervals of 10 s: 240 points
    assert context.bucket_for("database_size") == 600  # whole multiples of its 5 min
    assert not context.show_own


def test_a_pinned_range_names_its_end_instead_of_now() -> None:
    config = parse_config({"store": {"dsn": "host=127.0.0.1 dbname=store"},
                           "targets": [{"name": "kasho", "dsn": "host=127.0.0.1"}]}, environ={})
    end = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    context = build_context(config, "kasho", "6h", pinned_end=end)
    assert (context.start, context.end, context.pinned) == (end - timedelta(hours=6), end, True)
    assert context.range_phrase == "in 6 h to 09:30"
    assert context.range_words == "in the 6 hours to 2026-03-01 09:30 UTC"
    assert build_context(config, "kasho", "1h", now=T0).range_words == "in the last hour"
