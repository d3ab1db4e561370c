"""Kinds of target and how to read a metric group from each: the only place that knows how
a PostgreSQL server differs from a PgBouncer admin console.

`postgres` (the default): read-only sessions with libpq `options` (statement_timeout,
lock_timeout, ...), each group's SQL (after its unreadable/ stand-in, if it has one) run in
a transaction under its timeout, marked with QUERY_MARKER (query_marker.py); counters carry
the postmaster start time so a restart starts a new baseline.
`pgbouncer`: the admin console (database `pgbouncer`, a `stats_users` role): it accepts no
startup `options`, no transactions, no comments and no empty query, so sessions are
autocommit and never prepare statements (the console has no extended protocol), the
pool checks them with `SHOW VERSION`, and a group's file holds one `SHOW`
command whose answer admin_console.py shapes into the catalogue's columns. Its "major" for
the catalogue's file numbers is PgBouncer's (1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from collectors.core.admin_console import command_text, shape_rows
from collectors.core.config import CollectorSettings, Target
from collectors.core.connections import APPLICATION_NAME, POSTGRES_SESSION, SessionProfile
from collectors.core.deadlines import tcp_kwargs
from collectors.core.metric_groups import MetricGroup
from collectors.core.query_marker import marked

SET_TIMEOUT_SQL = marked("SELECT set_config('statement_timeout', %s, true)")
# Read right after a counter group's SQL, in the same transaction and round trip.
SERVER_CLOCK_SQL = marked("SELECT clock_timestamp() AS read_at, "
                          "pg_postmaster_start_time() AS started_at")


@dataclass(frozen=True)
class ServerRead:
    """Rows of one read and, for counter groups, the target's clocks at that read."""

    rows: list[dict[str, Any]]
    read_at: datetime | None = None
    server_started_at: datetime | None = None


class TargetKind(Protocol):
    name: str
    session: SessionProfile

    def read(self, conn: psycopg.Connection[Any], group: MetricGroup, server_major: int,
             timeout_ms: int | None, params: Mapping[str, Any] | None = None,
             with_clock: bool = False) -> ServerRead: ...


def read_server(conn: psycopg.Connection[Any], query: str, timeout_ms: int | None,
                params: Mapping[str, Any] | None = None,
                with_clock: bool = False) -> ServerRead:
    """One read-only transaction in one round trip: the timeout (None: the session's), the
    query and, with `with_clock`, the server's clock and start time right after it."""
    with conn.pipeline(), conn.transaction():
        if timeout_ms is not None:
            conn.execute(SET_TIMEOUT_SQL, [str(timeout_ms)])
        cursor = conn.cursor(row_factory=dict_row).execute(
            marked(query).encode(), params)
        clock = (conn.cursor(row_factory=dict_row).execute(SERVER_CLOCK_SQL)
                 if with_clock else None)
    rows = cursor.fetchall()
    if clock is None:
        return ServerRead(rows)
    clocks = clock.fetchone()
    assert clocks is not None
    return ServerRead(rows, clocks["read_at"].astimezone(UTC),
                      clocks["started_at"].astimezone(UTC))


class PostgresKind:
    name = "postgres"
    session = POSTGRES_SESSION

    def read(self, conn: psycopg.Connection[Any], group: MetricGroup, server_major: int,
             timeout_ms: int | None, params: Mapping[str, Any] | None = None,
             with_clock: bool = False) -> ServerRead:
        """The group's SQL, with the config values it binds (`params`, see sql_parameters);
        first its stand-in for a role that may not read the group, where it has one."""
        stand_in = group.unreadable_sql_for(server_major)
        if stand_in is not None:  # rows that say the role cannot read the group, or none
            said = read_server(conn, stand_in, timeout_ms, with_clock=with_clock)
            if said.rows:
                return said
        return read_server(conn, group.sql_for(server_major), timeout_ms, params,
                           with_clock=with_clock)


def pgbouncer_connect_kwargs(target: Target, settings: CollectorSettings) -> dict[str, Any]:
    """libpq parameters for the admin console: no `options` (PgBouncer refuses them),
    autocommit (it has no transactions); our name and client-side timeouts win over the DSN."""
    return {
        **target.connect_kwargs(),
        "application_name": APPLICATION_NAME,
        **tcp_kwargs(settings.connect_timeout_seconds),
        "autocommit": True,
        "prepare_threshold": None,  # the console speaks only the simple query protocol
    }


def check_console(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SHOW VERSION")


PGBOUNCER_SESSION = SessionProfile(pgbouncer_connect_kwargs, check_console, None)


class PgBouncerKind:
    name = "pgbouncer"
    session = PGBOUNCER_SESSION

    def read(self, conn: psycopg.Connection[Any], group: MetricGroup, server_major: int,
             timeout_ms: int | None, params: Mapping[str, Any] | None = None,
             with_clock: bool = False) -> ServerRead:
        """One SHOW command, shaped (console groups bind no parameters); its "clock" is
        ours (the console has none) and a PgBouncer restart shows as counters going
        backwards."""
        if group.console_shape is None:
            raise ValueError(f"group {group.name} has no console columns")
        command = command_text(group.sql_for(server_major))  # "1.18.0/bouncer" -> 1
        rows = conn.cursor(row_factory=dict_row).execute(command).fetchall()
        shaped = shape_rows(rows, group.console_shape)
        return ServerRead(shaped, datetime.now(UTC) if with_clock else None, None)


KINDS: dict[str, TargetKind] = {"postgres": PostgresKind(), "pgbouncer": PgBouncerKind()}


def kind_for(target: Target) -> TargetKind:
    return KINDS[target.kind]
