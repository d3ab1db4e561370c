from datetime import UTC, datetime, timedelta

from collectors.core.deltas import Sample, counter_deltas, index_rows

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BOOT = datetime(2025, 12, 31, tzinfo=UTC)
COUNTERS = ("calls", "time_ms")


def sample(seconds: float, rows: list[dict], booted: datetime = BOOT) -> Sample:
    return Sample(T0 + timedelta(seconds=seconds), booted, index_rows(rows, ("id",)))


def row(id_: int, calls: int, time_ms: float, reset: str = "r0", gauge: int = 7) -> dict:
    return {"id": id_, "calls": calls, "time_ms": time_ms, "reset": reset, "gauge": gauge}


def test_first_sample_is_only_a_baseline() -> None:
    result = counter_deltas(None, sample(0, [row(1, 5, 1.0)]), COUNTERS)
    assert result.rows == [] and result.baseline_only


def test_deltas_are_exact_and_carry_gauges_and_interval() -> None:
    before = sample(0, [row(1, 5, 1.5), row(2, 10, 2.0)])
    after = sample(60, [row(1, 8, 4.0, gauge=9), row(2, 10, 2.0)])
    result = counter_deltas(before, after, COUNTERS, "reset")
    assert result.rows == [
        {"id": 1, "calls": 3, "time_ms": 2.5, "reset": "r0", "gauge": 9, "interval_seconds": 60.0},
        {"id": 2, "calls": 0, "time_ms": 0.0, "reset": "r0", "gauge": 7, "interval_seconds": 60.0},
    ]


def test_only_changed_skips_idle_series() -> None:
    before = sample(0, [row(1, 5, 1.0), row(2, 10, 2.0)])
    after = sample(60, [row(1, 6, 1.0), row(2, 10, 2.0)])
    result = counter_deltas(before, after, COUNTERS, only_changed=True)
    assert [r["id"] for r in result.rows] == [1]


def test_server_restart_gives_no_deltas() -> None:
    before = sample(0, [row(1, 500, 1.0)])
    after = sample(60, [row(1, 3, 0.1)], booted=BOOT + timedelta(hours=1))
    result = counter_deltas(before, after, COUNTERS)
    assert result.rows == [] and result.restarted


def test_counter_going_backwards_is_a_reset_never_a_negative() -> None:
    before = sample(0, [row(1, 500, 10.0), row(2, 5, 1.0)])
    after = sample(60, [row(1, 2, 0.5), row(2, 6, 1.5)])
    result = counter_deltas(before, after, COUNTERS)
    assert result.reset_keys == [(1,)]
    assert [(r["id"], r["calls"]) for r in result.rows] == [(2, 1)]


def test_reset_column_change_skips_the_series() -> None:
    before = sample(0, [row(1, 5, 1.0, reset="r0")])
    after = sample(60, [row(1, 9, 2.0, reset="r1")])
    result = counter_deltas(before, after, COUNTERS, "reset")
    assert result.rows == [] and result.reset_keys == [(1,)]


def test_new_series_waits_for_its_own_baseline() -> None:
    before = sample(0, [row(1, 5, 1.0)])
    after = sample(60, [row(1, 5, 1.0), row(3, 100, 9.0)])
    assert [r["id"] for r in counter_deltas(before, after, COUNTERS).rows] == [1]
