"""Safe, pooled sessions to monitored servers.

Every monitoring session is read-only and bounded: statement_timeout, lock_timeout,
idle_in_transaction_session_timeout and application_name are set as libpq startup options,
so they hold before the first query runs, and every round trip also has a client-side
deadline (`collectors/core/deadlines.py`), so a frozen server costs one short error, never a
held worker.

`TargetConnections` is a small pool of its own rather than psycopg_pool: a pool that connects
in the background hides why a server cannot be reached behind its own timeout, logs every
failed reconnect, and checks or rolls back connections without our deadline. Here a session
is opened in the caller's thread (bounded by connect_timeout, failing with the server's own
reason), checked under a deadline before it is reused, and discarded whenever it is in doubt.
Every session it opens is a `TrackedConnection`, so this process knows its own backend pids.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

import psycopg
from psycopg.pq import TransactionStatus

from collectors.core.config import CollectorSettings, Target
from collectors.core.deadlines import (
    answer_within,
    connect_within,
    deadline_seconds,
    effective_connect_timeout,
    tcp_kwargs,
)
from collectors.core.errors import NoAnswer, TargetBusy, TargetUnavailable
from collectors.core.query_marker import marked
from collectors.core.redact import redact

APPLICATION_NAME = "kasho-ops"
# A pooled session unused for this long is closed rather than reused.
MAX_IDLE_SECONDS = 300.0
log = logging.getLogger(__name__)

# The role's CONNECTION LIMIT and the Kasho Ops sessions it already has open elsewhere.
CONNECTION_HEADROOM_SQL = marked("""
    SELECT r.rolconnlimit,
           (SELECT count(*) FROM pg_stat_activity a
            WHERE a.usename = current_user AND a.pid <> pg_backend_pid()
              AND a.application_name LIKE 'kasho-ops%')
    FROM pg_roles r WHERE r.rolname = current_user""")


class TrackedConnection(psycopg.Connection[Any]):
    """A connection that registers its backend pid while open, so this process knows its own
    sessions by pid (`own_backend_pids`), never by an application_name anyone can set."""

    _own_pid: int | None = None

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
        conn = super().connect(conninfo, **kwargs)
        conn._own_pid = conn.info.backend_pid
        with _OWN_PIDS_LOCK:
            _OWN_PIDS[conn._own_pid] = _OWN_PIDS.get(conn._own_pid, 0) + 1
        return conn

    def close(self) -> None:
        pid, self._own_pid = self._own_pid, None
        if pid is not None:
            with _OWN_PIDS_LOCK:
                left = _OWN_PIDS.pop(pid, 1) - 1
                if left > 0:  # the same pid on another server
                    _OWN_PIDS[pid] = left
        super().close()


_OWN_PIDS: dict[int, int] = {}
_OWN_PIDS_LOCK = threading.Lock()


def own_backend_pids() -> frozenset[int]:
    """Backend pids of the sessions this process has open (to any server: a pid number on
    another server may collide, which only ever refuses more)."""
    with _OWN_PIDS_LOCK:
        return frozenset(_OWN_PIDS)


def session_options(settings: CollectorSettings) -> str:
    return (f"-c statement_timeout={settings.statement_timeout_ms} "
            f"-c lock_timeout={settings.lock_timeout_ms} "
            "-c idle_in_transaction_session_timeout=30000 "
            "-c default_transaction_read_only=on")


# Monitoring sessions only (not EXPLAIN's, which must plan as the application's sessions do):
# the catalog-wide groups' cost estimates on a big schema cross jit_above_cost, and compiling
# a query that runs for tens of milliseconds costs the monitored server 100-300 ms of CPU.
MONITORING_ONLY_OPTIONS = "-c jit=off"


def monitoring_connect_kwargs(target: Target, settings: CollectorSettings) -> dict[str, Any]:
    """libpq parameters for a monitoring session; our safety settings win over the DSN's."""
    return {
        **target.connect_kwargs(),
        "application_name": APPLICATION_NAME,
        **tcp_kwargs(settings.connect_timeout_seconds),
        "options": f"{session_options(settings)} {MONITORING_ONLY_OPTIONS}",
    }


def ping(conn: psycopg.Connection[Any]) -> None:
    """One empty round trip outside any transaction (what psycopg_pool's check does)."""
    if conn.autocommit:
        conn.execute("")
        return
    conn.autocommit = True
    try:
        conn.execute("")
    finally:
        conn.autocommit = False


@dataclass(frozen=True)
class SessionProfile:
    """How to open and check sessions to one kind of target (collectors/core/target_kinds.py):
    libpq parameters, the check a pooled session passes before reuse, and the SQL that reads
    the monitoring role's CONNECTION LIMIT headroom (None where the target has no such thing)."""

    connect_kwargs: Callable[[Target, CollectorSettings], dict[str, Any]]
    check: Callable[[psycopg.Connection[Any]], None]
    headroom_sql: str | None


POSTGRES_SESSION = SessionProfile(monitoring_connect_kwargs, ping, CONNECTION_HEADROOM_SQL)


def describe_error(exc: BaseException) -> str:
    """One redacted line: libpq's or the server's reason, without its multi-line hints."""
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0].removeprefix("connection failed: ")
    return redact(first)


def conn_is_broken(exc: psycopg.OperationalError) -> bool:
    """True for lost connections, false for server-side errors such as query cancellation."""
    return getattr(exc, "sqlstate", None) is None or str(getattr(exc, "sqlstate", "")).startswith(
        ("08", "57P"))


class TargetConnections:
    """The sessions to one monitored server: at most `max_connections_per_target` at once."""

    def __init__(self, target: Target, settings: CollectorSettings,
                 session: SessionProfile = POSTGRES_SESSION) -> None:
        self.target = target
        self.settings = settings
        self.session = session
        self._slots = threading.BoundedSemaphore(settings.max_connections_per_target)
        self._idle: list[tuple[psycopg.Connection[Any], float]] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped by close(): sessions of an older one are not kept
        self._headroom_checked = False
        self._last_failure: tuple[float, str] | None = None  # (monotonic, message)
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """How many callers wait for a session now (all are in use)."""
        return self._waiting

    @property
    def check_seconds(self) -> float:
        """How long a pooled session may take to answer an empty query before reuse."""
        return float(effective_connect_timeout(self.settings.connect_timeout_seconds))

    @contextmanager
    def connection(self, timeout_ms: int | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A session whose round trips, all together, must answer within the statement
        timeout (`timeout_ms`, default [collector] statement_timeout_ms) plus a grace second.

        Raises TargetUnavailable (the reason, redacted, in one line) if the server cannot be
        reached, does not answer in time, or drops the connection."""
        deadline = deadline_seconds(timeout_ms or self.settings.statement_timeout_ms)
        asked_at = time.monotonic()
        with self._lock:
            self._waiting += 1
        try:
            got_slot = self._slots.acquire(timeout=deadline)
        finally:
            with self._lock:
                self._waiting -= 1
        if not got_slot:
            raise TargetBusy(
                f"target {self.target.name}: all {self.settings.max_connections_per_target} "
                "monitoring connections are busy; a previous collection is still running")
        try:
            self._fail_fast(asked_at)
            generation = self._generation
            conn = self._check_out()
            fired = True
            try:
                with answer_within(conn, deadline) as alarm:
                    yield conn
                fired = alarm.fired
            except NoAnswer as exc:
                raise self._unavailable(str(exc)) from None
            except psycopg.OperationalError as exc:
                if conn_is_broken(exc):
                    raise self._unavailable(f"connection lost: {describe_error(exc)}") from None
                fired = False
                raise
            except BaseException:
                fired = False
                raise
            finally:
                self._check_in(conn, keep=not fired and generation == self._generation)
        finally:
            self._slots.release()

    def _unavailable(self, reason: str) -> TargetUnavailable:
        """Close the idle sessions (the server is gone or frozen) and remember why, so runs
        that were waiting for a session fail at once instead of each trying again."""
        self.close()
        message = f"target {self.target.name}: {reason}"
        with self._lock:
            self._last_failure = (time.monotonic(), message)
        return TargetUnavailable(message)

    def _fail_fast(self, asked_at: float) -> None:
        with self._lock:
            failure = self._last_failure
        if failure is not None and failure[0] >= asked_at:
            raise TargetUnavailable(failure[1])

    def _check_out(self) -> psycopg.Connection[Any]:
        while (conn := self._take_idle()) is not None:
            try:
                with answer_within(conn, self.check_seconds):
                    self.session.check(conn)
                return conn
            except NoAnswer as exc:
                conn.close()
                raise self._unavailable(str(exc)) from None
            except psycopg.Error:
                conn.close()  # it died while idle (a restart, an idle timeout): open another
        return self._connect()

    def _take_idle(self) -> psycopg.Connection[Any] | None:
        now = time.monotonic()
        with self._lock:
            while self._idle:
                conn, returned_at = self._idle.pop()
                if now - returned_at <= MAX_IDLE_SECONDS:
                    return conn
                conn.close()
        return None

    def _check_in(self, conn: psycopg.Connection[Any], keep: bool) -> None:
        if (keep and not conn.closed and not conn.broken
                and conn.info.transaction_status == TransactionStatus.IDLE):
            with self._lock:
                self._idle.append((conn, time.monotonic()))
            return
        conn.close()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = connect_within(connection_class=TrackedConnection,
                                  **self.session.connect_kwargs(self.target, self.settings))
        except NoAnswer as exc:
            raise self._unavailable(str(exc)) from None
        except psycopg.Error as exc:
            raise self._unavailable(f"cannot connect: {describe_error(exc)}") from None
        with self._lock:
            self._last_failure = None
        if self._headroom_checked or self.session.headroom_sql is None:
            return conn
        try:
            with answer_within(conn, self.check_seconds):
                row = conn.execute(self.session.headroom_sql).fetchone()
                conn.rollback()
        except NoAnswer as exc:
            conn.close()
            raise self._unavailable(str(exc)) from None
        except psycopg.Error as exc:
            conn.close()
            raise self._unavailable(f"cannot connect: {describe_error(exc)}") from None
        self._headroom_checked = True
        if row:
            self._warn_if_over_role_limit(int(row[0]), int(row[1]))
        return conn

    def _warn_if_over_role_limit(self, limit: int, already_open: int) -> None:
        wanted = self.settings.max_connections_per_target
        if 0 <= limit < already_open + wanted:
            log.warning("target %s: the monitoring role has CONNECTION LIMIT %d and %d Kasho Ops "
                        "sessions are already open; this pool needs up to %d more. Another "
                        "collector or dashboard may be running against this target: stop it, "
                        "or lower [collector] max_connections_per_target",
                        self.target.name, limit, already_open, wanted)

    def close(self) -> None:
        """Close the idle sessions; those in use are closed when they come back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
            self._headroom_checked = False
        for conn, _ in idle:
            conn.close()
