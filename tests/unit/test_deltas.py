import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collectors.core.deltas import (
    Baseline,
    Sample,
    SeriesState,
    baseline_of,
    counter_deltas,
    index_rows,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BOOT = datetime(2025, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Definition:
    keys: tuple[str, ...] = ("id",)
    counters: tuple[str, ...] = ("calls", "time_ms")
    reset_column: str | None = "reset"
    only_changed: bool = False
    new_from_zero: bool = False


PLAIN = Definition()


def sample(seconds: float, rows: list[dict], booted: datetime = BOOT) -> Sample:
    return Sample(T0 + timedelta(seconds=seconds), booted, index_rows(rows, ("id",)))


def base(seconds: float, rows: list[dict], definition: Definition = PLAIN,
         booted: datetime = BOOT) -> Baseline:
    return baseline_of(sample(seconds, rows, booted), definition)


def row(id_: int, calls: int, time_ms: float, reset: str = "r0", gauge: int = 7) -> dict:
    return {"id": id_, "calls": calls, "time_ms": time_ms, "reset": reset, "gauge": gauge}


def test_first_sample_is_only_a_baseline_and_replaces_any_stored_one() -> None:
    result = counter_deltas(None, sample(0, [row(1, 5, 1.0)]), PLAIN)
    assert result.rows == [] and result.first_sample and result.replaces_baseline
    assert result.baseline.series == {(1,): SeriesState("r0", (5, 1.0))}
    assert result.baseline.taken_at == T0 and result.baseline.server_started_at == BOOT


def test_deltas_are_exact_and_carry_gauges_and_interval() -> None:
    before = base(0, [row(1, 5, 1.5), row(2, 10, 2.0)])
    after = sample(60, [row(1, 8, 4.0, gauge=9), row(2, 10, 2.0)])
    result = counter_deltas(before, after, PLAIN)
    assert result.rows == [
        {"id": 1, "calls": 3, "time_ms": 2.5, "reset": "r0", "gauge": 9, "interval_seconds": 60.0},
        {"id": 2, "calls": 0, "time_ms": 0.0, "reset": "r0", "gauge": 7, "interval_seconds": 60.0},
    ]
    assert not result.replaces_baseline


def test_only_changed_series_are_rewritten_in_the_baseline() -> None:
    before = base(0, [row(1, 5, 1.0), row(2, 10, 2.0), row(3, 1, 0.1)])
    after = sample(60, [row(1, 6, 1.5), row(2, 10, 2.0), row(4, 2, 0.2)])
    result = counter_deltas(before, after, PLAIN)
    assert result.changed == {(1,): SeriesState("r0", (6, 1.5)), (4,): SeriesState("r0", (2, 0.2))}
    assert result.vanished == [(3,)]
    assert set(result.baseline.series) == {(1,), (2,), (4,)}


def test_only_changed_skips_idle_series() -> None:
    definition = Definition(only_changed=True)
    before = base(0, [row(1, 5, 1.0), row(2, 10, 2.0)], definition)
    after = sample(60, [row(1, 6, 1.0), row(2, 10, 2.0)])
    assert [r["id"] for r in counter_deltas(before, after, definition).rows] == [1]


def test_server_restart_gives_no_deltas_and_a_new_baseline() -> None:
    before = base(0, [row(1, 500, 1.0)])
    after = sample(60, [row(1, 3, 0.1)], booted=BOOT + timedelta(hours=1))
    result = counter_deltas(before, after, PLAIN)
    assert result.rows == [] and result.restarted and result.replaces_baseline
    assert result.baseline.server_started_at == BOOT + timedelta(hours=1)


def test_integer_counter_going_backwards_is_a_reset_never_a_negative() -> None:
    before = base(0, [row(1, 500, 10.0), row(2, 5, 1.0)])
    after = sample(60, [row(1, 2, 0.5), row(2, 6, 1.5)])
    result = counter_deltas(before, after, PLAIN)
    assert result.reset_keys == [(1,)]
    assert [(r["id"], r["calls"]) for r in result.rows] == [(2, 1)]


def test_reset_column_change_skips_the_series() -> None:
    before = base(0, [row(1, 5, 1.0, reset="r0")])
    after = sample(60, [row(1, 9, 2.0, reset="r1")])
    result = counter_deltas(before, after, PLAIN)
    assert result.rows == [] and result.reset_keys == [(1,)]


def test_new_series_waits_for_its_own_baseline() -> None:
    before = base(0, [row(1, 5, 1.0)])
    after = sample(60, [row(1, 5, 1.0), row(3, 100, 9.0)])
    assert [r["id"] for r in counter_deltas(before, after, PLAIN).rows] == [1]


def test_a_float_counter_shrinking_by_rounding_is_zero_not_a_reset() -> None:
    # A crafted pair as pg_stat_statements gives it: one more call that took almost no
    # time, and calls * (stddev^2 + mean^2) recomputed from the running variance came out
    # a rounding step smaller. Read as a reset with new_from_zero, the statement's lifetime totals
    # (10,001 calls, 5e7 ms^2) would have been stored as one interval.
    definition = Definition(counters=("calls", "time_ms", "squares_ms2"), reset_column=None,
                            new_from_zero=True)
    squares = 50_000_123.456789
    shrunk = math.nextafter(squares, 0)  # the next float below, as rounding gives it
    before = baseline_of(sample(0, [{"id": 1, "calls": 10_000, "time_ms": 70_000.5,
                                     "squares_ms2": squares}]), definition)
    after = sample(60, [{"id": 1, "calls": 10_001, "time_ms": 70_000.5000001,
                         "squares_ms2": shrunk}])
    result = counter_deltas(before, after, definition)
    assert result.reset_keys == [] and result.clamped_keys == []
    [stored] = result.rows
    assert stored["calls"] == 1 and stored["squares_ms2"] == 0.0
    assert 0 < stored["time_ms"] < 0.001


def test_a_float_shrink_beyond_rounding_is_clamped_and_reported_never_a_reset() -> None:
    definition = Definition(counters=("calls", "time_ms"), reset_column=None, new_from_zero=True)
    before = base(0, [row(1, 100, 500.0)], definition)
    after = sample(60, [row(1, 101, 400.0)])
    result = counter_deltas(before, after, definition)
    assert result.reset_keys == [] and result.clamped_keys == [(1,)]
    assert [(r["calls"], r["time_ms"]) for r in result.rows] == [(1, 0.0)]


def test_unknown_values_stay_unknown() -> None:
    before = base(0, [row(1, 5, None)])  # type: ignore[arg-type]
    after = sample(60, [row(1, 6, 2.0)])
    assert [(r["calls"], r["time_ms"]) for r in counter_deltas(before, after, PLAIN).rows] == [
        (1, None)]


def test_a_changed_definition_starts_a_new_baseline() -> None:
    before = base(0, [row(1, 5, 1.0)], Definition(counters=("calls",)))
    result = counter_deltas(before, sample(60, [row(1, 9, 2.0)]), PLAIN)
    assert result.rows == [] and result.definition_changed and result.replaces_baseline


def test_a_server_clock_behind_the_baseline_keeps_it_and_stores_nothing() -> None:
    before = base(60, [row(1, 5, 1.0)])
    result = counter_deltas(before, sample(30, [row(1, 9, 2.0)]), PLAIN)
    assert result.rows == [] and result.clock_not_advanced and result.baseline is before
