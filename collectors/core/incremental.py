"""Incremental groups: each run reads only the rows created or updated since the previous run.

A group declared `incremental` in the catalogue has SQL bound to a window `(since, until]`
of the monitored server's clock (`%(since)s`, `%(until)s`). The window's end, the watermark,
is stored with the run's rows in one store transaction (`kasho_ops.incremental_watermarks`),
so whichever process runs next (a restarted collector, the next `collect --once` from cron)
continues exactly where the last stored run ended: nothing is read twice, nothing is skipped.

`until` stays `settle_seconds` behind the server's clock because a row's timestamp is taken
when its transaction starts, not when it commits: a row whose transaction commits more than
`settle_seconds` after it started is not seen. A first run reads the last `backfill_seconds`;
a run far behind (the collector was stopped) reads at most `max_window_seconds` and catches
up over the next runs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg_pool import PoolTimeout

from collectors.core.connections import describe_error
from collectors.core.db import fetch_value
from collectors.core.errors import KashoOpsError
from collectors.core.store import Batch, MetricStore

WATERMARK_TABLE = "incremental_watermarks"
WATERMARK_COLUMNS = ("collected_at", "target", "metric_group", "window_start", "watermark")
PLACEHOLDERS = ("%(since)s", "%(until)s")


@dataclass(frozen=True)
class IncrementalSpec:
    """A group's `incremental = { … }` table in the catalogue."""

    settle_seconds: int = 30
    backfill_seconds: int = 86_400
    max_window_seconds: int = 21_600

    @classmethod
    def parse(cls, raw: object) -> IncrementalSpec:
        """The catalogue value; raises ValueError naming the bad key."""
        if raw is True:
            return cls()
        if not isinstance(raw, dict):
            raise ValueError("incremental must be true or a table of settle_seconds, "
                             "backfill_seconds, max_window_seconds")
        unknown = set(raw) - {"settle_seconds", "backfill_seconds", "max_window_seconds"}
        if unknown:
            raise ValueError(f"incremental has unknown keys {', '.join(sorted(unknown))}")
        values = {**cls().__dict__, **raw}
        for key, value in values.items():
            minimum = 0 if key == "settle_seconds" else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"incremental.{key} must be a whole number >= {minimum}")
        return cls(**values)


@dataclass(frozen=True)
class Window:
    """The rows one run reads: timestamps in (since, until] on the server's clock."""

    since: datetime
    until: datetime
    catching_up: bool = False

    def params(self) -> dict[str, datetime]:
        return {"since": self.since, "until": self.until}


def next_window(previous: datetime | None, server_now: datetime,
                spec: IncrementalSpec) -> Window | None:
    """The window after `previous` (the stored watermark), or None when nothing has settled
    since (the server's clock is behind the watermark, or the run came too soon)."""
    until = server_now - timedelta(seconds=spec.settle_seconds)
    since = previous if previous is not None else until - timedelta(seconds=spec.backfill_seconds)
    if until <= since:
        return None
    widest = since + timedelta(seconds=spec.max_window_seconds)
    if until > widest:
        return Window(since, widest, catching_up=True)
    return Window(since, until)


def describe(window: Window | None, previous: datetime | None) -> str | None:
    """The run's note: first run, catching up, or nothing new."""
    if window is None:
        return "nothing settled since the previous run"
    if previous is None:
        return f"first run: read back to {window.since:%Y-%m-%d %H:%M:%S} UTC"
    if window.catching_up:
        return f"catching up: read to {window.until:%Y-%m-%d %H:%M:%S} UTC"
    return None


def stored_watermark(store: MetricStore, target: str, group: str) -> datetime | None:
    """The end of the last stored window of `group` on `target` (None before the first run).

    Raises KashoOpsError when the store cannot say: reading from a guessed start would count
    rows twice or skip them."""
    try:
        with store.connection() as conn:
            value = fetch_value(conn, "SELECT max(watermark) FROM kasho_ops.incremental_watermarks"
                                      " WHERE target = %s AND metric_group = %s", [target, group])
    except (psycopg.Error, PoolTimeout) as exc:
        reason = describe_error(exc) if isinstance(exc, psycopg.Error) else "pool timeout"
        raise KashoOpsError(f"{group} on {target}: cannot read its watermark from the store "
                            f"({reason}); nothing was read this run") from None
    return value if isinstance(value, datetime) else None


def watermark_batch(target: str, group: str, collected_at: datetime, window: Window) -> Batch:
    """The store row that records the window as read; written with the window's rows."""
    return Batch(WATERMARK_TABLE, WATERMARK_COLUMNS,
                 ((collected_at, target, group, window.since, window.until),),
                 collected_at.date())


class Watermarks:
    """The watermark of every incremental (target, group): the store's, kept in memory once
    read, and advanced after each run's write (buffered writes included, so a store outage
    never makes a run read its window again)."""

    def __init__(self, store: MetricStore | None) -> None:
        self.store = store
        self._known: dict[tuple[str, str], datetime | None] = {}
        self._lock = threading.Lock()

    def next(self, target: str, group: str, spec: IncrementalSpec,
             server_now: datetime) -> tuple[Window | None, str | None]:
        """The window this run reads, and the note that explains it."""
        key = (target, group)
        with self._lock:
            known = key in self._known
            previous = self._known.get(key)
        if not known and self.store is not None:
            previous = stored_watermark(self.store, target, group)
            with self._lock:
                self._known.setdefault(key, previous)
        window = next_window(previous, server_now, spec)
        return window, describe(window, previous)

    def advance(self, target: str, group: str, window: Window) -> None:
        with self._lock:
            self._known[(target, group)] = window.until

    def forget(self, target: str) -> None:
        """Read the target's watermarks from the store again (another collector may have
        moved them while this one did not hold the target)."""
        with self._lock:
            for key in [k for k in self._known if k[0] == target]:
                del self._known[key]
