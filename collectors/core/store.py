"""Write metric rows and run records into the metrics store (schema kasho_ops) with COPY.

Partitions are created on demand, once per (table, UTC day) per process. `write` hands rows
to the writer thread (store_writer.py) and returns at once: when the store is down, they wait
in a bounded in-memory buffer and are resent, newest first, when it is back; what does not
fit is dropped and counted in `points_dropped`.

A write may carry a `GuardedState` (a counter baseline): progress state written in the same
transaction as the rows, only if it is still the state the rows were computed from. If it
is not, the rows are discarded and only the run record is kept; if the store is down, such
rows are not buffered (the next run recomputes them from the stored state, losing nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from collectors.core.connections import describe_error
from collectors.core.db import fetch_value
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds, tcp_kwargs
from collectors.core.errors import NoAnswer, StoreUnavailable
from collectors.core.redact import Secret
from collectors.core.store_writer import DEFAULT_BUFFER_MAX_ROWS, RETRY_CAP_SECONDS, StoreWriter

log = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA = "kasho_ops"
RUNS_TABLE = "collector_runs"
RUN_COLUMNS = ("started_at", "target", "metric_group", "duration_ms", "rows_written", "error",
               "note", "collector_id", "lateness_ms")


@dataclass(frozen=True)
class Batch:
    """Rows for one store table, all with their time column in `day` (UTC).

    `insert_once` marks a side table of texts (not partitioned, with a primary key): rows
    whose key is already stored are skipped, never duplicated or overwritten."""

    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    day: date
    insert_once: bool = False


@dataclass(frozen=True)
class MaintenanceResult:
    dropped_partitions: list[str]
    pruned_texts: int


@dataclass(frozen=True)
class RunRecord:
    started_at: datetime
    target: str
    metric_group: str
    duration_ms: float
    rows_written: int
    error: str | None
    target_unreachable: bool = False  # not stored: drives the scheduler's backoff
    note: str | None = None  # what the run says beyond ok/failed ("baseline taken")
    collector_id: str | None = None  # which collector process ran it (collectors/core/leases.py)
    lateness_ms: float | None = None  # how late the scheduled run started (None: not scheduled)

    def as_row(self) -> tuple[Any, ...]:
        return (self.started_at, self.target, self.metric_group, self.duration_ms,
                self.rows_written, self.error, self.note, self.collector_id, self.lateness_ms)


class GuardedState(Protocol):
    """Progress state written with a run's rows, in their transaction, if still current."""

    @property
    def rejection(self) -> str:
        """The run's error when `apply` refused: why its rows were discarded."""
        ...

    def apply(self, conn: psycopg.Connection[Any]) -> bool:
        """Write the new state; False (having written nothing) if another writer moved it."""
        ...

    def settled(self, committed: bool) -> None:
        """Told once whether the rows and the state were committed together."""
        ...


class MetricStore:
    """The metrics store: rows in through a writer thread (`write`), or at once (`write_now`).

    `write` never waits for the store and never raises: the rows go to a bounded queue that
    its own thread drains (see store_writer.py). Everything else here (synchronous writes,
    maintenance, reads) runs on one shared session, one caller at a time, and every round
    trip has a client-side deadline of the store's statement_timeout plus a grace second."""

    def __init__(self, dsn: Secret, buffer_max_rows: int = DEFAULT_BUFFER_MAX_ROWS,
                 statement_timeout_ms: int = 30_000, connect_timeout_seconds: int = 5,
                 confirm_writes: bool = False) -> None:
        self._dsn = dsn
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout_seconds = connect_timeout_seconds
        # `write` returns once the writer has tried the unit (written, refused, or kept for
        # later because the store is down), so the caller's RunRecord says what happened.
        # For `collect --once` and tests; the scheduled collector never waits.
        self.confirm_writes = confirm_writes
        self._kwargs: dict[str, Any] = {
            "application_name": "kasho-ops-store", **tcp_kwargs(connect_timeout_seconds),
            "options": f"-c timezone=UTC -c statement_timeout={statement_timeout_ms} "
                       "-c lock_timeout=5000"}
        self._partitions: set[tuple[str, date]] = set()
        self._partitions_lock = threading.Lock()
        self._session: psycopg.Connection[Any] | None = None
        self._session_lock = threading.Lock()
        self.writer = StoreWriter(self.connect, self._write_unit, buffer_max_rows)

    @property
    def deadline_seconds(self) -> float:
        return deadline_seconds(self._statement_timeout_ms)

    def connect(self) -> psycopg.Connection[Any]:
        """A new store session (raises psycopg.Error or NoAnswer)."""
        return connect_within(self._dsn.reveal(), **self._kwargs)

    def open(self) -> None:
        """Check that the store answers, then start the writer thread."""
        try:
            with self.connection():
                pass
        except (psycopg.Error, NoAnswer) as exc:
            raise StoreUnavailable(f"cannot connect to the metrics store: {describe_error(exc)}; "
                                   "check [store] dsn / KASHO_OPS_STORE_DSN") from None
        self.writer.start()

    def close(self, flush_timeout: float = 10.0) -> None:
        """Write what is queued (for at most `flush_timeout` seconds), then disconnect."""
        left = self.writer.close(flush_timeout)
        stats = self.writer.stats
        if left or stats.rows_dropped or stats.rows_rejected:
            log.error("metrics store: %d rows not written at exit (store unavailable), %d "
                      "dropped while it was down, %d refused by the store",
                      left, stats.rows_dropped, stats.rows_rejected)
        with self._session_lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The shared synchronous session, for one caller at a time, under the deadline.

        While the writer thread finds the store down, this fails at once with
        StoreUnavailable instead of waiting for a connect timeout or a deadline: the
        writer's retries are what notice the store is back."""
        reason = self.writer.outage_reason
        if reason is not None:
            raise StoreUnavailable(f"metrics store unavailable ({reason})")
        if not self._session_lock.acquire(timeout=self.deadline_seconds):
            raise StoreUnavailable(f"metrics store: no answer within {self.deadline_seconds:g} s "
                                   "(another caller still waits on the shared session)")
        try:
            if self._session is None or self._session.closed or self._session.broken:
                self._session = self.connect()
            session = self._session
            try:
                with answer_within(session, self.deadline_seconds, "metrics store") as alarm:
                    yield session
                    if session.info.transaction_status == TransactionStatus.INTRANS:
                        session.commit()  # what the block did is kept, as a pool would
            except BaseException:
                if (session.broken or session.closed
                        or session.info.transaction_status != TransactionStatus.IDLE):
                    session.close()  # never a half-done transaction for the next caller
                raise
            if alarm.fired:
                session.close()
        finally:
            self._session_lock.release()

    # -- writing ---------------------------------------------------------------------------

    def write(self, batches: Sequence[Batch], run: RunRecord | None = None,
              guard: GuardedState | None = None) -> None:
        """Queue the batches and the run record, to be written in one transaction by the
        writer thread; returns at once (or, with `confirm_writes`, once it was tried),
        whatever state the store is in.

        With a guard, the batches are written only together with its state; a refused or
        failed guarded write keeps the run record alone (see store_writer.py)."""
        unit = self.writer.submit(batches, run, guard)
        if self.confirm_writes:
            unit.tried.wait(self.deadline_seconds + self._connect_timeout_seconds
                            + RETRY_CAP_SECONDS)

    def write_now(self, batches: Sequence[Batch], run: RunRecord | None = None,
                  guard: GuardedState | None = None) -> bool:
        """Write the batches (and the run record) in one transaction now; raises on failure.
        Returns False if the guard refused (nothing was written)."""
        with self.connection() as conn:
            committed = self._copy(conn, _with_run(batches, run), guard)
        if guard is not None:
            guard.settled(committed)
        return committed

    def flush(self, timeout: float) -> bool:
        """Wait for the writer thread to write what is queued; False if time ran out."""
        return self.writer.flush(timeout)

    def _write_unit(self, conn: psycopg.Connection[Any], batches: Sequence[Batch],
                    run: RunRecord | None, guard: GuardedState | None) -> bool:
        work = _with_run(batches, run)
        try:
            with answer_within(conn, self.deadline_seconds, "metrics store"):
                try:
                    return self._copy(conn, work, guard)
                except psycopg.errors.CheckViolation:
                    # "no partition found for row": one was dropped behind our cache's back
                    # (retention elsewhere, a store rebuilt while we ran). Create it again.
                    self._forget_partitions()
                    return self._copy(conn, work, guard)
        except BaseException:
            self._forget_partitions()  # the store may have been rebuilt while it was away
            raise

    def _forget_partitions(self) -> None:
        with self._partitions_lock:
            self._partitions.clear()

    def _copy(self, conn: psycopg.Connection[Any], batches: Sequence[Batch],
              guard: GuardedState | None = None) -> bool:
        created: set[tuple[str, date]] = set()
        with conn.transaction() as transaction:
            if guard is not None and not guard.apply(conn):
                transaction.force_rollback = True
                return False
            for batch in batches:
                if batch.insert_once:
                    self._insert_once(conn, batch)
                    continue
                self._ensure_partition(conn, batch.table, batch.day, created)
                statement = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
                    sql.Identifier(SCHEMA), sql.Identifier(batch.table),
                    sql.SQL(", ").join(map(sql.Identifier, batch.columns)))
                with conn.cursor().copy(statement) as copy:
                    for row in batch.rows:
                        copy.write_row(row)
        with self._partitions_lock:  # only once committed: a rolled-back one does not exist
            self._partitions |= created
        return True

    @staticmethod
    def _insert_once(conn: psycopg.Connection[Any], batch: Batch) -> None:
        statement = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({}) ON CONFLICT DO NOTHING").format(
            sql.Identifier(SCHEMA), sql.Identifier(batch.table),
            sql.SQL(", ").join(map(sql.Identifier, batch.columns)),
            sql.SQL(", ").join([sql.Placeholder()] * len(batch.columns)))
        conn.cursor().executemany(statement, batch.rows)

    def _ensure_partition(self, conn: psycopg.Connection[Any], table: str, day: date,
                          created: set[tuple[str, date]]) -> None:
        with self._partitions_lock:
            known = (table, day) in self._partitions
        if known or (table, day) in created:
            return
        conn.execute("SELECT kasho_ops.ensure_partition(%s, %s)", [table, day])
        created.add((table, day))

    @property
    def pending_rows(self) -> int:
        """Rows handed to `write` and not written yet."""
        return self.writer.pending_rows

    @property
    def points_dropped(self) -> int:
        """Rows given up: dropped from a full buffer, or refused by the store."""
        return self.writer.stats.rows_dropped + self.writer.stats.rows_rejected

    # -- maintenance -----------------------------------------------------------------------

    def partitioned_tables(self, conn: psycopg.Connection[Any] | None = None) -> list[str]:
        if conn is None:
            with self.connection() as own:
                return self.partitioned_tables(own)
        rows = conn.execute(
            "SELECT c.relname FROM pg_partitioned_table p "
            "JOIN pg_class c ON c.oid = p.partrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "ORDER BY 1", [SCHEMA]).fetchall()
        return [r[0] for r in rows]

    def maintain(self, today: date, retention_days: Callable[[str], int],
                 texts_seen_before: datetime | None = None) -> MaintenanceResult | None:
        """Create today's and tomorrow's partitions; drop each table's partitions older than
        its retention (`retention_days(table)`); prune statement texts no kept row refers to.
        One collector at a time (an advisory lock): None when another is at it. Creating or
        dropping a partition locks its parent while the writer thread's transactions lock
        several parents: a deadlock between them is retried."""

        def work(conn: psycopg.Connection[Any]) -> MaintenanceResult | None:
            created: set[tuple[str, date]] = set()
            dropped: list[str] = []
            cutoffs: dict[str, date] = {}
            if not fetch_value(conn, "SELECT pg_try_advisory_xact_lock("
                                     "hashtext('kasho_ops.maintain'))"):
                return None
            for table in self.partitioned_tables(conn):
                for day in (today, today + timedelta(days=1)):
                    self._ensure_partition(conn, table, day, created)
                cutoffs[table] = today - timedelta(days=retention_days(table))
                dropped += [r[0] for r in conn.execute(
                    "SELECT kasho_ops.drop_partitions_before(%s, %s)",
                    [table, cutoffs[table]]).fetchall()]
            seen_before = texts_seen_before or datetime.now(UTC) - timedelta(days=1)
            pruned = int(fetch_value(conn, "SELECT kasho_ops.prune_query_texts(%s)",
                                     [seen_before]))
            with self._partitions_lock:
                self._partitions = {(t, d) for t, d in self._partitions | created
                                    if d >= cutoffs.get(t, d)}
            return MaintenanceResult(dropped_partitions=dropped, pruned_texts=pruned)

        return self._retry_conflicts(work)

    def _retry_conflicts(self, work: Callable[[psycopg.Connection[Any]], T],
                         attempts: int = 3) -> T:
        """`work` in a transaction of its own, again if it lost a deadlock."""
        for attempt in range(1, attempts + 1):
            try:
                with self.connection() as conn, conn.transaction():
                    return work(conn)
            except psycopg.errors.TransactionRollback:
                if attempt == attempts:
                    raise
                time.sleep(0.2 * attempt)
        raise AssertionError("not reached")


def _with_run(batches: Sequence[Batch], run: RunRecord | None) -> list[Batch]:
    work = [b for b in batches if b.rows]
    if run is not None:
        work.append(Batch(RUNS_TABLE, RUN_COLUMNS, (run.as_row(),), run.started_at.date()))
    return work
