"""Test helpers for real PostgreSQL: free ports, throwaway databases, sessions held in threads."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC
from typing import Any

import psycopg
import psycopg.sql


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_database(admin_dsn: str, prefix: str = "t", template: str | None = None) -> str:
    """A new database (a copy of `template` when given: nobody may be connected to it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    statement = psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name))
    if template is not None:
        statement += psycopg.sql.SQL(" TEMPLATE {}").format(psycopg.sql.Identifier(template))
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(statement)
    return name


def drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(psycopg.sql.Identifier(name)))


class HeldSession:
    """A session that runs statements in its own thread and stays open (locks, idle in tx)."""

    def __init__(self, dsn: str, application_name: str = "kasho-test") -> None:
        self.conn = psycopg.connect(dsn, autocommit=True, application_name=application_name)
        self.pid = self.conn.info.backend_pid
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def execute(self, statement: str, params: Any = None) -> None:
        self.conn.execute(statement, params)

    def execute_in_background(self, statement: str) -> None:
        def run() -> None:
            try:
                self.conn.execute(statement)
            except BaseException as exc:  # recorded for the test to inspect
                self.error = exc

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def join(self, timeout: float = 10) -> None:
        if self._thread:
            self._thread.join(timeout)

    def close(self) -> None:
        with suppress(psycopg.Error):
            self.conn.cancel_safe()
        self.join(5)
        self.conn.close()


@contextmanager
def held_sessions(dsn: str, count: int) -> Iterator[list[HeldSession]]:
    sessions = [HeldSession(dsn) for _ in range(count)]
    try:
        yield sessions
    finally:
        for session in sessions:
            session.close()


def copy_into_store(conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...],
                    rows: list[tuple[Any, ...]]) -> None:
    """COPY rows into kasho_ops.<table>, creating the daily partitions their first column (the
    time column of every store table) falls in."""
    for day in {row[0].astimezone(UTC).date() for row in rows}:
        conn.execute("SELECT kasho_ops.ensure_partition(%s, %s)", [table, day])
    statement = psycopg.sql.SQL("COPY kasho_ops.{} ({}) FROM STDIN").format(
        psycopg.sql.Identifier(table),
        psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, columns)))
    with conn.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
