"""Turn two cumulative samples of a counter group into per-interval deltas.

Pure logic, no I/O. A delta is only produced when it can be trusted: never across a server
restart, never for a key whose reset column changed or whose counters went backwards (a
stats reset or an evicted-and-readded entry), never for a key first seen in this sample.
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
                   only_changed: bool = False) -> DeltaResult:
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
        if before is None:
            continue
        if reset_column and before.get(reset_column) != row.get(reset_column):
            reset_keys.append(key)
            continue
        deltas = {}
        went_backwards = False
        for column in counters:
            now_value, then_value = row[column], before[column]
            if now_value is None or then_value is None:
                deltas[column] = None
                continue
            delta = now_value - then_value
            if delta < 0:
                went_backwards = True
                break
            deltas[column] = delta
        if went_backwards:
            reset_keys.append(key)
            continue
        if only_changed and not any(deltas.values()):
            continue
        out.append({**row, **deltas, "interval_seconds": interval})
    return DeltaResult(rows=out, interval_seconds=interval, reset_keys=reset_keys)
