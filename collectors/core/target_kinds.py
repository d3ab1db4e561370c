"""Kinds of target and how to read a metric group from each: the only place that knows how
a PostgreSQL server differs from a PgBouncer admin console.

`postgres` (the default): read-only sessions with libpq `options` (statement_timeout,
lock_timeout, ...), each group's SQL run in a transaction under its timeout, marked with
QUERY_MARKER; counters carry the postmaster start time so a restart starts a new baseline.
`pgbouncer`: the admin console (database `pgbouncer`, a `stats_users` role): it accepts no
startup `options`, no transactions, no comments and no empty query, so sessions are
autocommit and never prepare statements (the console has no extended protocol), the
pool checks them with `SHOW VERSION`, and a group's file holds one `SHOW`
command whose answer admin_console.py shapes into the catalogue's columns. Its "major" for
the catalogue's file numbers is PgBouncer's (1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row

from collectors.core.admin_console import command_text, shape_rows
from collectors.core.config import CollectorSettings, Target
from collectors.core.connections import (
    APPLICATION_NAME,
    POSTGRES_SESSION,
    QUERY_MARKER,
    SessionProfile,
)
from collectors.core.db import fetch_value
from collectors.core.metric_groups import MetricGroup


@dataclass(frozen=True)
class Reading:
    """What one read of a group returned: rows as read (counters still cumulative), the
    version used to pick the definition, and when the server started (counters only)."""

    rows: list[dict[str, Any]]
    server_major: int
    started_at: datetime | None = None


class TargetKind(Protocol):
    name: str
    session: SessionProfile

    def read(self, conn: psycopg.Connection[Any], group: MetricGroup,
             settings: CollectorSettings) -> Reading: ...


class PostgresKind:
    name = "postgres"
    session = POSTGRES_SESSION

    def read(self, conn: psycopg.Connection[Any], group: MetricGroup,
             settings: CollectorSettings) -> Reading:
        server_major = conn.info.server_version // 10000
        query = group.sql_for(server_major)
        started_at = None
        with conn.transaction():
            timeout_ms = group.timeout_ms or settings.statement_timeout_ms
            conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)])
            rows = conn.cursor(row_factory=dict_row).execute(QUERY_MARKER + query).fetchall()
            if group.is_counter:
                started_at = fetch_value(conn, "SELECT pg_postmaster_start_time()")
        return Reading(rows=rows, server_major=server_major, started_at=started_at)


def pgbouncer_connect_kwargs(target: Target, settings: CollectorSettings) -> dict[str, Any]:
    """libpq parameters for the admin console: no `options` (PgBouncer refuses them),
    autocommit (it has no transactions); our name and client-side timeouts win over the DSN."""
    return {
        **target.connect_kwargs(),
        "application_name": APPLICATION_NAME,
        "connect_timeout": settings.connect_timeout_seconds,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "autocommit": True,
        "prepare_threshold": None,  # the console speaks only the simple query protocol
    }


def check_console(conn: psycopg.Connection[Any]) -> None:
    conn.execute("SHOW VERSION")


PGBOUNCER_SESSION = SessionProfile(pgbouncer_connect_kwargs, check_console, None)


class PgBouncerKind:
    name = "pgbouncer"
    session = PGBOUNCER_SESSION

    def read(self, conn: psycopg.Connection[Any], group: MetricGroup,
             settings: CollectorSettings) -> Reading:
        major = conn.info.server_version // 10000  # "1.18.0/bouncer" -> 11800 -> 1
        if group.console_shape is None:
            raise ValueError(f"group {group.name} has no console columns")
        command = command_text(group.sql_for(major))
        rows = conn.cursor(row_factory=dict_row).execute(command).fetchall()
        return Reading(rows=shape_rows(rows, group.console_shape), server_major=major)


KINDS: dict[str, TargetKind] = {"postgres": PostgresKind(), "pgbouncer": PgBouncerKind()}


def kind_for(target: Target) -> TargetKind:
    return KINDS[target.kind]
