"""The store's writer thread: collection hands its rows over and never waits for the store.

`StoreWriter.submit` puts one unit (a run's batches, its run record and, for counter groups,
its guarded baseline) on a bounded in-memory queue and returns at once. One thread drains the
queue over its own store session, each unit in one transaction under a client-side deadline:
in the order they came, so a chain of counter baselines advances step by step; after an
outage, the backlog of plain units newest first, so the dashboard's "now" is back first.
Failures are sorted in two kinds:

- transient (the store is down, restarting, frozen, out of connections or disk; a lock or
  statement timeout): the unit stays queued and is retried with backoff. A store outage is
  logged once when it starts and once when it ends. The queue is bounded in rows; past the
  bound the oldest units are dropped and counted (`rows_dropped`).
- permanent (the store refuses the rows: a constraint, a type, a missing table or column):
  the unit is dropped and counted (`rows_rejected`), the reason is logged once per kind, and
  the run is recorded again on its own with the store's reason as its error, so the failure
  is data like any other.

A guarded unit's rows are written only with its guard's state (see `GuardedState` in
store.py); the guard is told once whether they were committed. When its attempt finds the
store down, or the store refuses it, its rows are not kept: the guard is told "not
committed", and the next run recomputes them from the stored baseline, losing nothing.

Nothing here raises into the collector: `submit` only appends to a list.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import psycopg

from collectors.core.connections import describe_error
from collectors.core.durations import format_duration
from collectors.core.errors import NoAnswer

if TYPE_CHECKING:
    from collectors.core.store import Batch, GuardedState, RunRecord

log = logging.getLogger("collectors.core.store")

DEFAULT_BUFFER_MAX_ROWS = 50_000
RETRY_BASE_SECONDS = 0.5
RETRY_CAP_SECONDS = 5.0
# A unit that keeps hitting a lock or statement timeout while the store is up is given up
# after this many attempts, as if refused: it must not hold the queue for ever.
MAX_ATTEMPTS_WHILE_UP = 5
UNSTORED_NOTE = ("the store was unavailable: these deltas are recomputed by the next run from "
                 "the stored baseline")

# SQLSTATE classes and codes that mean "the store cannot take writes right now", whatever the
# rows: connection, operator intervention, insufficient resources, system error, read-only
# (a standby during failover), object in use.
_STORE_DOWN_STATES = ("08", "53", "57P", "58", "25006", "55006")
# Retry, but count the attempts: a timeout or a conflict may be this unit's own fault.
_RETRYABLE_STATES = ("57014", "55P03", "40")


def failure_kind(exc: BaseException) -> str:
    """'down', 'retry' or 'refused' for an exception raised while writing a unit."""
    if isinstance(exc, NoAnswer | psycopg.InterfaceError):
        return "down"
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate or ""
        if not state:
            return "down" if isinstance(exc, psycopg.OperationalError) else "refused"
        if state.startswith(_STORE_DOWN_STATES):
            return "down"
        if state.startswith(_RETRYABLE_STATES):
            return "retry"
    return "refused"


_QUOTED_VALUE = re.compile(r'"[^"]*"')


def refusal_reason(exc: BaseException) -> str:
    """One line for a refused write; data errors lose the value they quote (it may be text
    read from a monitored server)."""
    if isinstance(exc, psycopg.Error):
        reason = describe_error(exc)
        if (exc.sqlstate or "").startswith(("22", "23")):
            reason = _QUOTED_VALUE.sub('"…"', reason)
        return f"{reason} (SQLSTATE {exc.sqlstate})" if exc.sqlstate else reason
    return f"{type(exc).__name__}: {describe_error(exc)}"


@dataclass(eq=False)
class WriteUnit:
    """One run's rows: written in one transaction, or not at all. `tried` is set once the
    writer has made its first attempt (or dropped it): what a confirming caller waits for."""

    batches: tuple[Batch, ...]
    run: RunRecord | None
    guard: GuardedState | None
    order: int
    rows: int = 0
    attempts: int = 0
    tried: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.rows = sum(len(b.rows) for b in self.batches) + (self.run is not None)

    @property
    def tables(self) -> str:
        names = [b.table for b in self.batches] + (["collector_runs"] if self.run else [])
        return ", ".join(dict.fromkeys(names)) or "nothing"

    def run_alone(self, **changes: Any) -> WriteUnit | None:
        """The unit's run record on its own (changed), keeping its place in the queue."""
        if self.run is None:
            return None
        return WriteUnit((), replace(self.run, rows_written=0, **changes), None, self.order)


@dataclass
class WriterStats:
    rows_written: int = 0
    rows_dropped: int = 0  # buffer full while the store was down: oldest first
    rows_rejected: int = 0  # refused by the store (permanent failures)
    outages: int = 0


@dataclass
class _Outage:
    started: float
    reason: str
    dropped_before: int
    full_logged: bool = False


class StoreWriter:
    """A bounded queue of write units and the thread that drains it."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]],
                 write_unit: Callable[[psycopg.Connection[Any], Sequence[Batch],
                                       RunRecord | None, GuardedState | None], bool],
                 max_rows: int = DEFAULT_BUFFER_MAX_ROWS) -> None:
        self._connect = connect
        self._write_unit = write_unit
        self.max_rows = max_rows
        self.stats = WriterStats()
        self._queue: list[WriteUnit] = []  # in submission order
        self._queued_rows = 0
        self._resending = False  # draining an outage's backlog: plain units newest first
        self._in_flight: WriteUnit | None = None
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._outage: _Outage | None = None
        self._refusals_logged: set[tuple[str, str]] = set()
        self._failures = 0

    # -- the collector's side --------------------------------------------------------------

    def submit(self, batches: Sequence[Batch], run: RunRecord | None,
               guard: GuardedState | None = None) -> WriteUnit:
        unit = WriteUnit(tuple(b for b in batches if b.rows), run, guard, next(self._order))
        if not unit.rows and guard is None:
            unit.tried.set()
            return unit
        with self._cond:
            self._queue.append(unit)
            self._queued_rows += unit.rows
            dropped = self._trim()
            self._cond.notify_all()
        _settle_dropped(dropped)
        return unit

    @property
    def outage_reason(self) -> str | None:
        """Why the store is taking no writes now, or None."""
        outage = self._outage
        return outage.reason if outage else None

    @property
    def pending_rows(self) -> int:
        """Rows not yet written: queued, plus the unit being written."""
        with self._cond:
            return self._queued_rows + (self._in_flight.rows if self._in_flight else 0)

    def flush(self, timeout: float) -> bool:
        """Wait until every submitted row is written or given up; False if time ran out."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight is not None:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None:
                    return False
                self._cond.wait(left)
        return True

    def start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="kasho-ops-store-writer",
                                                daemon=True)
                self._thread.start()

    def close(self, timeout: float) -> int:
        """Write what is queued (for at most `timeout` seconds), stop; returns rows left."""
        flushed = self.flush(timeout)
        with self._cond:
            self._stopping = True
            left = self._queued_rows + (self._in_flight.rows if self._in_flight else 0)
            unwritten, self._queue, self._queued_rows = self._queue, [], 0
            self._cond.notify_all()
        _settle_dropped(unwritten)
        thread = self._thread
        if thread is not None and flushed:
            thread.join(timeout=2.0)
        self._thread = None
        if self._conn is not None and (thread is None or not thread.is_alive()):
            self._conn.close()
            self._conn = None
        return left

    # -- the writer thread -----------------------------------------------------------------

    def _trim(self) -> list[WriteUnit]:
        """Drop the oldest units until the queue holds at most max_rows (caller holds the
        lock); returns them, for their guards to be told outside the lock."""
        dropped = []
        while self._queued_rows > self.max_rows and self._queue:
            unit = self._queue.pop(0)
            dropped.append(unit)
            self._queued_rows -= unit.rows
            self.stats.rows_dropped += unit.rows
            if self._outage is not None and not self._outage.full_logged:
                self._outage.full_logged = True
                log.error("metrics store still unavailable and %d rows are waiting: dropping "
                          "the oldest rows from now on (counted; see the summary at recovery)",
                          self.max_rows)
        return dropped

    def _take(self) -> WriteUnit:
        """The next unit (caller holds the lock; the queue is not empty)."""
        if self._resending:
            for index in range(len(self._queue) - 1, -1, -1):
                if self._queue[index].guard is None:
                    return self._queue.pop(index)
            self._resending = False
        return self._queue.pop(0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._resending = False
                    self._cond.wait()
                if self._stopping:
                    return
                unit = self._take()
                self._queued_rows -= unit.rows
                self._in_flight = unit
            again = self._attempt(unit)
            unit.tried.set()
            with self._cond:
                self._in_flight = None
                dropped: list[WriteUnit] = []
                if again is not None:
                    bisect.insort(self._queue, again, key=lambda u: u.order)
                    self._queued_rows += again.rows
                    dropped = self._trim()
                self._cond.notify_all()
                if again is not None and self._outage is not None:
                    self._failures += 1
                    self._cond.wait(min(RETRY_CAP_SECONDS,
                                        RETRY_BASE_SECONDS * 2 ** min(self._failures - 1, 8)))
            _settle_dropped(dropped)

    def _attempt(self, unit: WriteUnit) -> WriteUnit | None:
        """Write one unit; returns what to queue again (the unit, or its run record alone)."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            committed = self._write_unit(self._conn, unit.batches, unit.run, unit.guard)
        except Exception as exc:  # sorted below; nothing escapes the writer thread
            if self._conn is not None and (self._conn.broken or self._conn.closed
                                           or failure_kind(exc) == "down"):
                self._conn.close()
                self._conn = None
            return self._failed(unit, exc)
        self._back_up()
        if unit.guard is not None:
            unit.guard.settled(committed)
            if not committed:  # the guard refused: its rows were discarded with the rollback
                return unit.run_alone(error=unit.guard.rejection)
        self.stats.rows_written += unit.rows
        return None

    def _failed(self, unit: WriteUnit, exc: BaseException) -> WriteUnit | None:
        kind = failure_kind(exc)
        if kind == "down":
            self._down(exc)
            if unit.guard is None:
                return unit
            unit.guard.settled(False)
            return unit.run_alone(note=_joined(unit.run.note if unit.run else None,
                                               UNSTORED_NOTE))
        unit.attempts += 1
        if kind == "retry" and unit.attempts < MAX_ATTEMPTS_WHILE_UP:
            return unit
        return self._refused(unit, exc)

    def _down(self, exc: BaseException) -> None:
        if self._outage is not None:
            return
        reason = describe_error(exc)
        self._outage = _Outage(time.monotonic(), reason, self.stats.rows_dropped)
        self.stats.outages += 1
        log.error("metrics store unavailable (%s); collection goes on and rows wait in memory "
                  "(up to %d rows, newest written first when it is back)", reason, self.max_rows)

    def _back_up(self) -> None:
        self._failures = 0
        if self._outage is None:
            return
        outage, self._outage = self._outage, None
        with self._cond:
            self._resending = True
        log.warning("metrics store is back after %s; writing %d buffered rows, newest first "
                    "(%d dropped while it was down)",
                    format_duration(time.monotonic() - outage.started), self.pending_rows,
                    self.stats.rows_dropped - outage.dropped_before)

    def _refused(self, unit: WriteUnit, exc: BaseException) -> WriteUnit | None:
        if unit.guard is not None:
            unit.guard.settled(False)
        reason = refusal_reason(exc)
        key = (getattr(exc, "sqlstate", None) or type(exc).__name__, unit.tables)
        if key not in self._refusals_logged:
            self._refusals_logged.add(key)
            log.error("metrics store refused rows for %s: %s; they are dropped and counted "
                      "(logged once per kind)", unit.tables, reason)
        if not unit.batches:  # the run record itself was refused: nothing is left to keep
            self.stats.rows_rejected += unit.rows
            return None
        self.stats.rows_rejected += unit.rows - (unit.run is not None)
        error = f"{unit.run.error}; " if unit.run and unit.run.error else ""
        return unit.run_alone(error=f"{error}the store refused this run's rows: {reason}")


def _settle_dropped(units: list[WriteUnit]) -> None:
    """Units given up without an attempt: their guards learn that nothing was committed."""
    for unit in units:
        if unit.guard is not None:
            unit.guard.settled(False)
        unit.tried.set()


def _joined(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second
