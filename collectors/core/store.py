"""Write metric rows and run records into the metrics store (schema kasho_ops) with COPY.

Partitions are created on demand, once per (table, UTC day) per process. When the store is
down, batches wait in a bounded in-memory buffer and are resent, newest first, when it is
back; what does not fit is dropped and counted in `points_dropped`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from collectors.core.connections import describe_error
from collectors.core.errors import StoreUnavailable
from collectors.core.redact import Secret

log = logging.getLogger(__name__)
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

    def write(self, batches: Sequence[Batch], run: RunRecord | None = None) -> None:
        """Write the batches (and the run record) in one transaction; buffer them on failure."""
        work = [b for b in batches if b.rows]
        if run is not None:
            work.append(Batch(RUNS_TABLE, RUN_COLUMNS, (run.as_row(),), run.started_at.date()))
        try:
            self._copy(work)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            self._buffer(work, exc)
            return
        self._resend_pending()

    def _copy(self, batches: Sequence[Batch]) -> None:
        created: set[tuple[str, date]] = set()
        with self._pool.connection() as conn, conn.transaction():
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

    def partitioned_tables(self) -> list[str]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT c.relname FROM pg_partitioned_table p "
                "JOIN pg_class c ON c.oid = p.partrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "ORDER BY 1", [SCHEMA]).fetchall()
        return [r[0] for r in rows]

    def maintain(self, today: date, retention_days: int) -> list[str]:
        """Create today's and tomorrow's partitions; drop those older than the retention."""
        from datetime import timedelta

        created: set[tuple[str, date]] = set()
        with self._pool.connection() as conn:
            for table in self.partitioned_tables():
                for day in (today, today + timedelta(days=1)):
                    self._ensure_partition(conn, table, day, created)
            cutoff = today - timedelta(days=retention_days)
            dropped = [r[0] for r in conn.execute(
                "SELECT kasho_ops.drop_partitions_before(%s)", [cutoff]).fetchall()]
        self._partitions = {(t, d) for t, d in self._partitions | created if d >= cutoff}
        return dropped
