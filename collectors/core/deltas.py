"""Turn a counter group's cumulative sample and its stored baseline into per-interval deltas.

Pure logic, no I/O. A `Sample` is what one read of the server gave (with the server's own
clock at read time and its start time); a `Baseline` is the compact raw state of the last
sample (per series: the reset marker and the counter values), which the store keeps so the
next run, in this process or another, continues from it.

A delta is only produced when it can be trusted: never across a server restart, never for a
series whose reset marker changed or whose integer counters went backwards (a statistics
reset, or an entry evicted and added again), never for a series first seen in this sample.
Resets are read from integer counters and reset markers only: a floating-point counter (a
sum of times, a sum of squares) can shrink by rounding between two reads, so a shrink within
`FLOAT_TOLERANCE` is a delta of 0, and a larger one is clamped to 0 and reported, never read
as a reset. A group whose series start from zero when they appear or are reset
(`new_from_zero`: a pg_stat_statements entry is created, reset or evicted and added again
with zero counters) counts such a series' current values as its deltas instead of skipping
it: whatever it counted before the reset within the interval is lost, never doubled or
negative.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

Key = tuple[Any, ...]
CounterValue = int | float | Decimal | None
# A float counter that shrank by at most this fraction of its size shrank by rounding.
FLOAT_TOLERANCE = 1e-9


class CounterDefinition(Protocol):
    """What the delta logic needs to know about a counter group (a MetricGroup has it)."""

    @property
    def keys(self) -> tuple[str, ...]: ...
    @property
    def counters(self) -> tuple[str, ...]: ...
    @property
    def reset_column(self) -> str | None: ...
    @property
    def only_changed(self) -> bool: ...
    @property
    def new_from_zero(self) -> bool: ...


class SeriesState(NamedTuple):
    """One series' raw state: its reset marker (as text) and its counter values in order."""

    marker: str | None
    values: tuple[CounterValue, ...]


@dataclass(frozen=True)
class Sample:
    """One read of a counter group: rows by series key, stamped with the server's clocks."""

    taken_at: datetime
    server_started_at: datetime | None
    rows: Mapping[Key, Mapping[str, Any]]


@dataclass(frozen=True)
class Baseline:
    """The last raw sample of a counter group on one target: the next deltas start here."""

    taken_at: datetime
    server_started_at: datetime | None
    counters: tuple[str, ...]
    series: Mapping[Key, SeriesState]


@dataclass(frozen=True)
class DeltaResult:
    """The rows to store and what the new baseline is.

    `changed` and `vanished` describe the new baseline relative to the previous one, so only
    those series need writing; `replaces_baseline` says the whole baseline is new (first
    run, server restart, changed definition) and must be written in full."""

    rows: list[dict[str, Any]]
    interval_seconds: float | None
    baseline: Baseline
    changed: dict[Key, SeriesState] = field(default_factory=dict)
    vanished: list[Key] = field(default_factory=list)
    replaces_baseline: bool = False
    reset_keys: list[Key] = field(default_factory=list)
    clamped_keys: list[Key] = field(default_factory=list)
    first_sample: bool = False
    restarted: bool = False
    definition_changed: bool = False
    clock_not_advanced: bool = False


def index_rows(rows: Iterable[Mapping[str, Any]],
               keys: tuple[str, ...]) -> dict[Key, Mapping[str, Any]]:
    return {tuple(row[k] for k in keys): row for row in rows}


def marker_text(value: Any) -> str | None:
    """A reset marker in a form that survives the store: timestamps as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def baseline_of(sample: Sample, definition: CounterDefinition) -> Baseline:
    reset_column = definition.reset_column
    series = {
        key: SeriesState(marker_text(row.get(reset_column)) if reset_column else None,
                         tuple(row[c] for c in definition.counters))
        for key, row in sample.rows.items()}
    return Baseline(sample.taken_at, sample.server_started_at, definition.counters, series)


def counter_deltas(previous: Baseline | None, current: Sample,
                   definition: CounterDefinition) -> DeltaResult:
    baseline = baseline_of(current, definition)
    if previous is None:
        return DeltaResult(rows=[], interval_seconds=None, baseline=baseline,
                           replaces_baseline=True, first_sample=True)
    interval = (current.taken_at - previous.taken_at).total_seconds()
    if (previous.server_started_at is not None and current.server_started_at is not None
            and previous.server_started_at != current.server_started_at):
        return DeltaResult(rows=[], interval_seconds=interval, baseline=baseline,
                           replaces_baseline=True, restarted=True)
    if previous.counters != definition.counters:
        return DeltaResult(rows=[], interval_seconds=interval, baseline=baseline,
                           replaces_baseline=True, definition_changed=True)
    if interval <= 0:  # the server's clock went back: keep the stored baseline
        return DeltaResult(rows=[], interval_seconds=interval, baseline=previous,
                           clock_not_advanced=True)
    out: list[dict[str, Any]] = []
    reset_keys: list[Key] = []
    clamped_keys: list[Key] = []
    changed: dict[Key, SeriesState] = {}
    for key, row in current.rows.items():
        state = baseline.series[key]
        before = previous.series.get(key)
        if before != state:
            changed[key] = state
        from_zero = before is None
        if before is not None and before.marker != state.marker:
            reset_keys.append(key)
            from_zero = True
        deltas: dict[str, Any] = {}
        if before is not None and not from_zero:
            difference = _differences(state.values, before.values, definition.counters)
            if difference is None:  # an integer counter went backwards: reset or eviction
                reset_keys.append(key)
                from_zero = True
            else:
                deltas, clamped = difference
                if clamped:
                    clamped_keys.append(key)
        if from_zero:
            if not definition.new_from_zero:
                continue
            deltas = {column: row[column] for column in definition.counters}
        if definition.only_changed and not any(deltas.values()):
            continue
        out.append({**row, **deltas, "interval_seconds": interval})
    vanished = [key for key in previous.series if key not in current.rows]
    return DeltaResult(rows=out, interval_seconds=interval, baseline=baseline, changed=changed,
                       vanished=vanished, reset_keys=reset_keys, clamped_keys=clamped_keys)


def _differences(now: tuple[CounterValue, ...], then: tuple[CounterValue, ...],
                 counters: tuple[str, ...]) -> tuple[dict[str, CounterValue], bool] | None:
    """Each counter's increase (None where unknown) and whether a float shrink beyond
    rounding was clamped; None if an integer counter went backwards."""
    deltas: dict[str, CounterValue] = {}
    clamped = False
    for column, now_value, then_value in zip(counters, now, then, strict=True):
        if now_value is None or then_value is None:
            deltas[column] = None
        elif isinstance(now_value, float) or isinstance(then_value, float):
            increase = float(now_value) - float(then_value)
            if increase < 0:
                clamped |= not math.isclose(float(now_value), float(then_value),
                                            rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
                increase = 0.0
            deltas[column] = increase
        elif now_value < then_value:
            return None
        else:
            deltas[column] = now_value - then_value
    return deltas, clamped
