"""new_from_zero: series that start from zero (pg_stat_statements entries) count their
current values when they appear or are reset within the interval."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collectors.core.deltas import Sample, baseline_of, counter_deltas, index_rows

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BOOT = datetime(2025, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class Definition:
    keys: tuple[str, ...] = ("id",)
    counters: tuple[str, ...] = ("calls", "time_ms")
    reset_column: str | None = "since"
    only_changed: bool = False
    new_from_zero: bool = True


FROM_ZERO = Definition()


def sample(seconds: float, rows: list[dict], booted: datetime = BOOT) -> Sample:
    return Sample(T0 + timedelta(seconds=seconds), booted, index_rows(rows, ("id",)))


def row(id_: int, calls: int, time_ms: float, since: str = "s0") -> dict:
    return {"id": id_, "calls": calls, "time_ms": time_ms, "since": since}


def test_new_reset_and_backwards_series_count_from_zero() -> None:
    before = baseline_of(sample(0, [row(1, 5, 1.0), row(2, 500, 50.0),
                                    row(3, 9, 9.0, since="s0")]), FROM_ZERO)
    after = sample(60, [row(1, 8, 1.5), row(2, 7, 0.7), row(3, 40, 4.0, since="s1"),
                        row(4, 3, 0.3)])
    result = counter_deltas(before, after, FROM_ZERO)
    assert [(r["id"], r["calls"], r["time_ms"]) for r in result.rows] == [
        (1, 3, 0.5), (2, 7, 0.7), (3, 40, 4.0), (4, 3, 0.3)]
    assert result.reset_keys == [(2,), (3,)]


def test_without_it_those_series_are_skipped() -> None:
    definition = Definition(new_from_zero=False)
    before = baseline_of(sample(0, [row(1, 5, 1.0), row(2, 500, 50.0)]), definition)
    after = sample(60, [row(1, 8, 1.5), row(2, 7, 0.7), row(4, 3, 0.3)])
    assert [r["id"] for r in counter_deltas(before, after, definition).rows] == [1]


def test_a_restart_still_gives_nothing_and_idle_new_series_store_nothing() -> None:
    before = baseline_of(sample(0, [row(1, 5, 1.0)]), FROM_ZERO)
    restarted = sample(60, [row(1, 9, 2.0), row(2, 1, 0.1)], booted=BOOT + timedelta(hours=1))
    assert counter_deltas(before, restarted, FROM_ZERO).rows == []
    idle = sample(60, [row(1, 5, 1.0), row(2, 0, 0.0)])
    assert counter_deltas(before, idle, Definition(only_changed=True)).rows == []
