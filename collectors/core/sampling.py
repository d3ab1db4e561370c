"""Sampled groups (kind "sampled", such as active_sessions): many cheap samples, one stored
row per key and interval.

The scheduler runs a sampled group's SQL every `sample_interval_seconds` and hands each
result to the target's `SampleWindow`; every `interval_seconds` the engine closes the window
and stores, per key, the average of the `averaged` columns over the samples taken, with how
many samples that was and how long the window lasted. A key missing from a sample counts as 0
in it (no active session is a sample of zero, not a missing one), so summing a window's rows
gives its average. Failed samples are counted, not stored, and reported with the window's
run. Windows live in memory: a collector restart loses the open window, never a stored one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ClosedWindow:
    """What a window held when the engine stored it."""

    rows: list[dict[str, Any]]
    samples: int
    failures: int
    last_error: str | None
    since: datetime | None  # the previous close, or the first sample


@dataclass
class SampleWindow:
    """The samples of one sampled group on one target since the last store."""

    keys: tuple[str, ...]
    averaged: tuple[str, ...]
    since: datetime | None = None
    samples: int = 0
    failures: int = 0
    last_error: str | None = None
    sums: dict[tuple[Any, ...], list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rows: Iterable[Mapping[str, Any]], taken_at: datetime) -> None:
        with self._lock:
            if self.since is None:
                self.since = taken_at
            self.samples += 1
            for row in rows:
                key = tuple(row[k] for k in self.keys)
                totals = self.sums.setdefault(key, [0.0] * len(self.averaged))
                for i, column in enumerate(self.averaged):
                    totals[i] += float(row[column] or 0)

    def add_failure(self, error: str, taken_at: datetime) -> None:
        with self._lock:
            if self.since is None:
                self.since = taken_at
            self.failures += 1
            self.last_error = error

    def close(self, closed_at: datetime) -> ClosedWindow:
        """The window's averages; the next window starts at `closed_at`."""
        with self._lock:
            closed = ClosedWindow(
                rows=average_rows(self.sums, self.samples, self.keys, self.averaged),
                samples=self.samples, failures=self.failures, last_error=self.last_error,
                since=self.since)
            self.since, self.samples, self.failures, self.last_error = closed_at, 0, 0, None
            self.sums = {}
            return closed


def average_rows(sums: Mapping[tuple[Any, ...], list[float]], samples: int,
                 keys: tuple[str, ...], averaged: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per key: its averaged columns over `samples` (absent samples count as 0)."""
    if samples <= 0:
        return []
    return [{**dict(zip(keys, key, strict=True)),
             **{column: total / samples for column, total in zip(averaged, totals,
                                                                  strict=True)}}
            for key, totals in sorted(sums.items(), key=lambda item: str(item[0]))]


def window_note(closed: ClosedWindow) -> str | None:
    """The run's error when no sample of the window succeeded; None otherwise."""
    if closed.samples == 0 and closed.failures:
        return (f"all {closed.failures} samples failed; last error: {closed.last_error}")
    return None
