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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


def describe_error(exc: BaseException) -> str:
    """One redacted line: libpq's or the server's reason, without its multi-line hints."""
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0].removeprefix("connection failed: ")
    return redact(first)


class TargetConnections:
    """The connection pool of one monitored server (at most `max_connections_per_target`)."""

    def __init__(self, target: Target, settings: CollectorSettings) -> None:
        self.target = target
        self.settings = settings
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _connect_kwargs(self) -> dict[str, Any]:
        return monitoring_connect_kwargs(self.target, self.settings)

    def probe(self) -> tuple[int, int]:
        """Open and close one session; raise TargetUnavailable with the reason on failure.

        Returns the role's CONNECTION LIMIT (-1: none) and how many other Kasho Ops sessions
        the role already has open on the server."""
        try:
            with psycopg.connect(**self._connect_kwargs()) as conn:
                row = conn.execute(CONNECTION_HEADROOM_SQL).fetchone()
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
                    min_size=1,
                    max_size=self.settings.max_connections_per_target,
                    timeout=float(self.settings.connect_timeout_seconds),
                    max_idle=300.0,
                    name=f"kasho-ops:{self.target.name}",
                    check=ConnectionPool.check_connection,
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
