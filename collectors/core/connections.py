"""Safe, pooled sessions to monitored servers and to the store.

Every monitoring session is read-only and bounded: statement_timeout, lock_timeout,
idle_in_transaction_session_timeout and application_name are set as libpq startup options,
so they hold before the first query runs. A target's pool exists only while the target is
reachable; when it is not, a direct probe connection yields the real (redacted) reason,
which the pool's own timeout error would hide.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from collectors.core.config import CollectorSettings, Target
from collectors.core.errors import TargetUnavailable
from collectors.core.redact import redact

APPLICATION_NAME = "kasho-ops"
# Leads every statement Kasho Ops sends a monitored server, so a DBA reading pg_stat_activity
# or pg_stat_statements sees at once which statements are ours.
QUERY_MARKER = "/* kasho-ops */ "
log = logging.getLogger(__name__)

# The role's CONNECTION LIMIT and the Kasho Ops sessions it already has open elsewhere.
CONNECTION_HEADROOM_SQL = """
    SELECT r.rolconnlimit,
           (SELECT count(*) FROM pg_stat_activity a
            WHERE a.usename = current_user AND a.pid <> pg_backend_pid()
              AND a.application_name LIKE 'kasho-ops%')
    FROM pg_roles r WHERE r.rolname = current_user"""


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


def monitoring_connect_kwargs(target: Target, settings: CollectorSettings) -> dict[str, Any]:
    """libpq parameters for a monitoring session; our safety settings win over the DSN's."""
    return {
        **target.connect_kwargs(),
        "application_name": APPLICATION_NAME,
        "connect_timeout": settings.connect_timeout_seconds,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "options": session_options(settings),
    }


@dataclass(frozen=True)
class SessionProfile:
    """How to open and check sessions to one kind of target (collectors/core/target_kinds.py):
    libpq parameters, the pool's health check, and the SQL that reads the monitoring role's
    CONNECTION LIMIT headroom (None where the target has no such thing)."""

    connect_kwargs: Callable[[Target, CollectorSettings], dict[str, Any]]
    check: Callable[[psycopg.Connection[Any]], None]
    headroom_sql: str | None


POSTGRES_SESSION = SessionProfile(monitoring_connect_kwargs, ConnectionPool.check_connection,
                                  CONNECTION_HEADROOM_SQL)


def describe_error(exc: BaseException) -> str:
    """One redacted line: libpq's or the server's reason, without its multi-line hints."""
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0].removeprefix("connection failed: ")
    return redact(first)


class TargetConnections:
    """The connection pool of one monitored server (at most `max_connections_per_target`)."""

    def __init__(self, target: Target, settings: CollectorSettings,
                 session: SessionProfile = POSTGRES_SESSION) -> None:
        self.target = target
        self.settings = settings
        self.session = session
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _connect_kwargs(self) -> dict[str, Any]:
        return self.session.connect_kwargs(self.target, self.settings)

    def probe(self) -> tuple[int, int]:
        """Open and close one session; raise TargetUnavailable with the reason on failure.

        Returns the role's CONNECTION LIMIT (-1: none) and how many other Kasho Ops sessions
        the role already has open on the server."""
        try:
            with TrackedConnection.connect(**self._connect_kwargs()) as conn:
                if self.session.headroom_sql is None:
                    return (-1, 0)
                row = conn.execute(self.session.headroom_sql).fetchone()
        except psycopg.Error as exc:
            raise TargetUnavailable(f"target {self.target.name}: cannot connect: "
                                    f"{describe_error(exc)}") from None
        return (int(row[0]), int(row[1])) if row else (-1, 0)

    def _warn_if_over_role_limit(self, limit: int, already_open: int) -> None:
        wanted = self.settings.max_connections_per_target
        if 0 <= limit < already_open + wanted:
            log.warning("target %s: the monitoring role has CONNECTION LIMIT %d and %d Kasho Ops "
                        "sessions are already open; this pool needs up to %d more. Another "
                        "collector or dashboard may be running against this target: stop it, "
                        "or lower [collector] max_connections_per_target",
                        self.target.name, limit, already_open, wanted)

    def _open_pool(self) -> ConnectionPool:
        with self._lock:
            if self._pool is None:
                self._warn_if_over_role_limit(*self.probe())
                self._pool = ConnectionPool(
                    kwargs=self._connect_kwargs(),
                    connection_class=TrackedConnection,
                    min_size=1,
                    max_size=self.settings.max_connections_per_target,
                    timeout=float(self.settings.connect_timeout_seconds),
                    max_idle=300.0,
                    name=f"kasho-ops:{self.target.name}",
                    check=self.session.check,
                    open=False,
                )
                self._pool.open(wait=True, timeout=float(self.settings.connect_timeout_seconds))
            return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            pool = self._open_pool()
            with pool.connection() as conn:
                yield conn
        except PoolTimeout:
            self.close()
            self.probe()  # raises with the real reason if the server is gone
            raise TargetUnavailable(
                f"target {self.target.name}: all {self.settings.max_connections_per_target} "
                "monitoring connections are busy; a previous collection is still running"
            ) from None
        except psycopg.OperationalError as exc:
            if conn_is_broken(exc):
                self.close()
                raise TargetUnavailable(f"target {self.target.name}: connection lost: "
                                        f"{describe_error(exc)}") from None
            raise

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close(timeout=1.0)
                self._pool = None


def conn_is_broken(exc: psycopg.OperationalError) -> bool:
    """True for lost connections, false for server-side errors such as query cancellation."""
    return getattr(exc, "sqlstate", None) is None or str(getattr(exc, "sqlstate", "")).startswith(
        ("08", "57P"))
