"""Turn two cumulative samples of a counter group into per-interval deltas.

Pure logic, no I/O. A delta is only produced when it can be trusted: never across a server
restart, never for a key whose reset column changed or whose counters went backwards (a
stats reset or an evicted-and-readded entry), never for a key first seen in this sample.
A group whose series start from zero when they appear or are reset (`new_from_zero`: a
pg_stat_statements entry is created, reset or evicted and added again with zero counters)
counts such a series' current values as its deltas instead of skipping it: whatever it
counted before the reset within the interval is lost, never doubled or negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Sample:
    taken_at: datetime
    server_started_at: datetime | None
    rows: Mapping[Key, Mapping[str, Any]]


@dataclass(frozen=True)
class DeltaResult:
    rows: list[dict[str, Any]]
    interval_seconds: float | None
    reset_keys: list[Key] = field(default_factory=list)
    restarted: bool = False
    baseline_only: bool = False


def index_rows(rows: Iterable[Mapping[str, Any]],
               keys: tuple[str, ...]) -> dict[Key, Mapping[str, Any]]:
    return {tuple(row[k] for k in keys): row for row in rows}


def counter_deltas(previous: Sample | None, current: Sample, counters: tuple[str, ...],
                   reset_column: str | None = None,
                   only_changed: bool = False,
                   new_from_zero: bool = False) -> DeltaResult:
    if previous is None:
        return DeltaResult(rows=[], interval_seconds=None, baseline_only=True)
    interval = (current.taken_at - previous.taken_at).total_seconds()
    if (previous.server_started_at is not None and current.server_started_at is not None
            and previous.server_started_at != current.server_started_at):
        return DeltaResult(rows=[], interval_seconds=interval, restarted=True)
    if interval <= 0:
        return DeltaResult(rows=[], interval_seconds=interval, baseline_only=True)
    out: list[dict[str, Any]] = []
    reset_keys: list[Key] = []
    for key, row in current.rows.items():
        before = previous.rows.get(key)
        from_zero = before is None
        if before is not None and reset_column and before.get(reset_column) != row.get(
                reset_column):
            reset_keys.append(key)
            from_zero = True
        deltas = None if from_zero or before is None else _differences(row, before, counters)
        if deltas is None and not from_zero:  # went backwards: reset, or evicted and added again
            reset_keys.append(key)
        if deltas is None:
            if not new_from_zero:
                continue
            deltas = {column: row[column] for column in counters}
        if only_changed and not any(deltas.values()):
            continue
        out.append({**row, **deltas, "interval_seconds": interval})
    return DeltaResult(rows=out, interval_seconds=interval, reset_keys=reset_keys)


def _differences(row: Mapping[str, Any], before: Mapping[str, Any],
                 counters: tuple[str, ...]) -> dict[str, Any] | None:
    """Each counter's increase (None where unknown), or None if any went backwards."""
    deltas: dict[str, Any] = {}
    for column in counters:
        now_value, then_value = row[column], before[column]
        if now_value is None or then_value is None:
            deltas[column] = None
            continue
        if now_value < then_value:
            return None
        deltas[column] = now_value - then_value
    return deltas
