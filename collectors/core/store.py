"""Write metric rows and run records into the metrics store (schema kasho_ops) with COPY.

Partitions are created on demand, once per (table, UTC day) per process. `write` hands rows
to the writer thread (store_writer.py) and returns at once: when the store is down, they wait
in a bounded in-memory buffer and are resent, newest first, when it is back; what does not
fit is dropped and counted in `points_dropped`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus

from collectors.core.connections import describe_error
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds, tcp_kwargs
from collectors.core.errors import NoAnswer, StoreUnavailable
from collectors.core.redact import Secret
from collectors.core.store_writer import DEFAULT_BUFFER_MAX_ROWS, StoreWriter

log = logging.getLogger(__name__)
T = TypeVar("T")
SCHEMA = "kasho_ops"
RUNS_TABLE = "collector_runs"
RUN_COLUMNS = ("started_at", "target", "metric_group", "duration_ms", "rows_written", "error")


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
class RunRecord:
    started_at: datetime
    target: str
    metric_group: str
    duration_ms: float
    rows_written: int
    error: str | None
    target_unreachable: bool = False  # not stored: drives the scheduler's backoff

    def as_row(self) -> tuple[Any, ...]:
        return (self.started_at, self.target, self.metric_group, self.duration_ms,
                self.rows_written, self.error)


class MetricStore:
    """The metrics store: rows in through a writer thread (`write`), or at once (`write_now`).

    `write` never waits for the store and never raises: the rows go to a bounded queue that
    its own thread drains (see store_writer.py). Everything else here (synchronous writes,
    maintenance, reads) runs on one shared session, one caller at a time, and every round
    trip has a client-side deadline of the store's statement_timeout plus a grace second."""

    def __init__(self, dsn: Secret, buffer_max_rows: int = DEFAULT_BUFFER_MAX_ROWS,
                 statement_timeout_ms: int = 30_000, connect_timeout_seconds: int = 5) -> None:
        self._dsn = dsn
        self._statement_timeout_ms = statement_timeout_ms
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
        """The shared synchronous session, for one caller at a time, under the deadline."""
        with self._session_lock:
            if self._session is None or self._session.closed or self._session.broken:
                self._session = self.connect()
            session = self._session
            try:
                with answer_within(session, self.deadline_seconds, "metrics store") as alarm:
                    yield session
            except BaseException:
                if (session.broken or session.closed
                        or session.info.transaction_status != TransactionStatus.IDLE):
                    session.close()
                raise
            if alarm.fired:
                session.close()

    # -- writing ---------------------------------------------------------------------------

    def write(self, batches: Sequence[Batch], run: RunRecord | None = None) -> None:
        """Queue the batches and the run record, to be written in one transaction by the
        writer thread; returns at once, whatever state the store is in."""
        self.writer.submit(batches, run)

    def write_now(self, batches: Sequence[Batch], run: RunRecord | None = None) -> None:
        """Write the batches (and the run record) in one transaction now; raises on failure."""
        with self.connection() as conn:
            self._copy(conn, _with_run(batches, run))

    def flush(self, timeout: float) -> bool:
        """Wait for the writer thread to write what is queued; False if time ran out."""
        return self.writer.flush(timeout)

    def _write_unit(self, conn: psycopg.Connection[Any], batches: Sequence[Batch],
                    run: RunRecord | None) -> None:
        work = _with_run(batches, run)
        try:
            with answer_within(conn, self.deadline_seconds, "metrics store"):
                try:
                    self._copy(conn, work)
                except psycopg.errors.CheckViolation:
                    # "no partition found for row": one was dropped behind our cache's back
                    # (retention elsewhere, a store rebuilt while we ran). Create it again.
                    self._forget_partitions()
                    self._copy(conn, work)
        except BaseException:
            self._forget_partitions()  # the store may have been rebuilt while it was away
            raise

    def _forget_partitions(self) -> None:
        with self._partitions_lock:
            self._partitions.clear()

    def _copy(self, conn: psycopg.Connection[Any], batches: Sequence[Batch]) -> None:
        created: set[tuple[str, date]] = set()
        with conn.transaction():
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

    def partitioned_tables(self) -> list[str]:
        with self.connection() as conn, conn.transaction():
            rows = conn.execute(
                "SELECT c.relname FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "ORDER BY 1", [SCHEMA]).fetchall()
        return [r[0] for r in rows]

    def maintain(self, today: date, retention_days: int) -> list[str]:
        """Create today's and tomorrow's partitions; drop those older than the retention.

        One table per transaction: creating or dropping a partition locks its parent, and
        the writer thread's transactions lock several parents, so holding more than one here
        could deadlock with it. A deadlock that happens anyway is retried."""
        cutoff = today - timedelta(days=retention_days)
        for table in self.partitioned_tables():
            for day in (today, today + timedelta(days=1)):

                def create(conn: psycopg.Connection[Any], table: str = table,
                           day: date = day) -> None:
                    conn.execute("SELECT kasho_ops.ensure_partition(%s, %s)", [table, day])

                self._retry_conflicts(create)
                with self._partitions_lock:
                    self._partitions.add((table, day))

        def drop(conn: psycopg.Connection[Any]) -> list[str]:
            return [str(r[0]) for r in conn.execute(
                "SELECT kasho_ops.drop_partitions_before(%s)", [cutoff]).fetchall()]

        dropped = self._retry_conflicts(drop)
        with self._partitions_lock:
            self._partitions = {(t, d) for t, d in self._partitions if d >= cutoff}
        return dropped

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
