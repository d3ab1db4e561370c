"""Write metric rows and run records into the metrics store (schema kasho_ops) with COPY.

Partitions are created on demand, once per (table, UTC day) per process. When the store is
down, batches wait in a bounded in-memory buffer and are resent, newest first, when it is
back; what does not fit is dropped and counted in `points_dropped`.

A write may carry a `GuardedState` (a counter baseline): progress state written in the same
transaction as the rows, only if it is still the state the rows were computed from. If it
is not, the rows are discarded and only the run record is kept; if the store is down, such
rows are not buffered (the next run recomputes them from the stored state, losing nothing).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from collectors.core.connections import describe_error
from collectors.core.db import fetch_value
from collectors.core.errors import StoreUnavailable
from collectors.core.redact import Secret

log = logging.getLogger(__name__)
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
    def __init__(self, dsn: Secret, max_connections: int = 4,
                 buffer_max_rows: int = 50_000) -> None:
        self._conninfo = dsn.reveal()
        self._connect_kwargs: dict[str, Any] = {
            "application_name": "kasho-ops-store", "connect_timeout": 5,
            "options": "-c timezone=UTC -c statement_timeout=30000 -c lock_timeout=5000"}
        self._pool = ConnectionPool(
            self._conninfo, min_size=1, max_size=max_connections, timeout=10.0, open=False,
            name="kasho-ops:store", kwargs=self._connect_kwargs)
        self._partitions: set[tuple[str, date]] = set()
        self._pending: deque[Batch] = deque()
        self._pending_rows = 0
        self._buffer_max_rows = buffer_max_rows
        self._lock = threading.Lock()
        self.points_dropped = 0
        self._down_since: datetime | None = None

    def open(self) -> None:
        try:
            self._pool.open(wait=True, timeout=10.0)
        except PoolTimeout:
            self._pool.close()
            raise StoreUnavailable(f"cannot connect to the metrics store: {self._probe_error()}; "
                                   "check [store] dsn / KASHO_OPS_STORE_DSN") from None

    def _probe_error(self) -> str:
        try:
            with psycopg.connect(self._conninfo, **self._connect_kwargs):
                return "connection works now, but the pool timed out"
        except psycopg.Error as exc:
            return describe_error(exc)

    def close(self) -> None:
        self._pool.close()

    def connection(self) -> Any:
        return self._pool.connection()

    # -- writing ---------------------------------------------------------------------------

    def write(self, batches: Sequence[Batch], run: RunRecord | None = None,
              guard: GuardedState | None = None) -> None:
        """Write the batches (and the run record) in one transaction; buffer them on failure.

        With a guard, the batches are written only together with its state; a refused or
        failed guarded write keeps the run record alone (buffered if the store is down)."""
        if guard is not None:
            self._write_guarded(batches, run, guard)
            return
        work = [b for b in batches if b.rows]
        if run is not None:
            work.append(_run_batch(run))
        try:
            self._copy(work)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._buffer(work, exc)
            return
        self._resend_pending()

    def _write_guarded(self, batches: Sequence[Batch], run: RunRecord | None,
                       guard: GuardedState) -> None:
        work = [b for b in batches if b.rows]
        runs = [_run_batch(run)] if run is not None else []
        try:
            committed = self._copy([*work, *runs], guard)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            guard.settled(False)
            if run is not None:
                self._buffer([_run_batch(replace(run, rows_written=0, note=_join(
                    run.note, "the store was unavailable: these deltas are recomputed by the "
                              "next run from the stored baseline")))], exc)
            return
        except BaseException:
            guard.settled(False)
            raise
        guard.settled(committed)
        if not committed and run is not None:
            self.write([], replace(run, rows_written=0, error=guard.rejection))
            return
        self._resend_pending()

    def _copy(self, batches: Sequence[Batch], guard: GuardedState | None = None) -> bool:
        created: set[tuple[str, date]] = set()
        with self._pool.connection() as conn, conn.transaction() as transaction:
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
        self._partitions |= created  # only once committed: a rolled-back one does not exist
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
        if (table, day) in self._partitions or (table, day) in created:
            return
        conn.execute("SELECT kasho_ops.ensure_partition(%s, %s)", [table, day])
        created.add((table, day))

    def _buffer(self, batches: list[Batch], exc: BaseException) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = datetime.now().astimezone()
                reason = describe_error(exc) if isinstance(exc, psycopg.Error) else str(exc)
                log.error("metrics store unavailable (%s); buffering up to %d rows in memory",
                          reason, self._buffer_max_rows)
            self._partitions.clear()
            for batch in batches:
                self._pending.appendleft(batch)
                self._pending_rows += len(batch.rows)
            while self._pending_rows > self._buffer_max_rows and self._pending:
                dropped = self._pending.pop()  # the oldest
                self._pending_rows -= len(dropped.rows)
                self.points_dropped += len(dropped.rows)

    def _resend_pending(self) -> None:
        with self._lock:
            if self._down_since is not None:
                log.warning("metrics store is back; resending %d buffered rows (%d dropped)",
                            self._pending_rows, self.points_dropped)
                self._down_since = None
            while self._pending:
                batch = self._pending[0]
                try:
                    self._copy([batch])
                except (psycopg.OperationalError, PoolTimeout):
                    return
                self._pending.popleft()
                self._pending_rows -= len(batch.rows)

    @property
    def pending_rows(self) -> int:
        return self._pending_rows

    # -- maintenance -----------------------------------------------------------------------

    def partitioned_tables(self, conn: psycopg.Connection[Any] | None = None) -> list[str]:
        if conn is None:
            with self._pool.connection() as own:
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
        One collector at a time (an advisory lock): None when another is at it."""
        created: set[tuple[str, date]] = set()
        dropped: list[str] = []
        cutoffs: dict[str, date] = {}
        with self._pool.connection() as conn, conn.transaction():
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
        self._partitions = {(t, d) for t, d in self._partitions | created
                            if d >= cutoffs.get(t, d)}
        return MaintenanceResult(dropped_partitions=dropped, pruned_texts=pruned)


def _run_batch(run: RunRecord) -> Batch:
    return Batch(RUNS_TABLE, RUN_COLUMNS, (run.as_row(),), run.started_at.date())


def _join(first: str | None, second: str) -> str:
    return f"{first}; {second}" if first else second
