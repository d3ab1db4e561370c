"""DBA actions on a monitored server: cancel a backend's query or terminate the backend.

The monitoring role (pg_monitor) cannot signal other roles' backends, so an action connects
with the target's `actions_dsn`: a role granted pg_signal_backend (which PostgreSQL never
lets signal a superuser's session) and pg_read_all_stats, to see whom it signals. Actions
are denied unless the actor's role permits them (cancel: operator, terminate: admin; checked
here, not only by the page), refused unless `[dashboard] actions_enabled` is on, and only ever
reach client backends (never WAL senders, replication or parallel workers, autovacuum). They
never touch this process's own sessions, known by the pids it opened (`own_backend_pids`),
not by an application_name anyone can set. The pid is re-checked in the same statement that
signals it, against the backend_start the person saw and those rules, so a pid reused by a
new backend in the meantime is never hit.

Every attempt, refusals and failures included, is one row in kasho_ops.dba_actions in the
metrics store. The audit table is checked before anything is done: no audit, no action.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from collectors.actions.audit import audit_round_trip, connect_audit
from collectors.core.access import AccessDenied, Actor, Permission, authorize
from collectors.core.config import Config, Target
from collectors.core.connections import TrackedConnection, describe_error, own_backend_pids
from collectors.core.deadlines import answer_within, connect_within, tcp_kwargs
from collectors.core.errors import ConfigError, NoAnswer
from collectors.core.query_marker import QUERY_MARKER, marked
from collectors.core.redact import Secret
from collectors.live.activity import masked_query

log = logging.getLogger(__name__)

ACTIONS = {"cancel": "pg_cancel_backend", "terminate": "pg_terminate_backend"}
# cancel needs an operator, terminate an admin (collectors/core/access.py).
ACTIONS_APPLICATION_NAME = "kasho-ops-actions"
AUDIT_QUERY_CHARS = 200
TERMINATE_WAIT_MS = 3000  # PostgreSQL 14+: wait this long for the backend to exit
# Client-side deadline of the acting session's round trips: room for the terminate wait.
ACTION_ANSWER_SECONDS = TERMINATE_WAIT_MS / 1000 + 2
OUTCOMES = ("signalled", "refused", "not_found", "failed", "denied")


@dataclass(frozen=True)
class ActionRequest:
    action: str  # a key of ACTIONS
    target: str
    pid: int
    actor: Actor  # who asked (signed in), with the role their permission is checked against
    backend_start: datetime | None = None  # as the person saw it; None: whatever runs now


@dataclass(frozen=True)
class TargetSession:
    """What the audit row records about the backend acted on (query literals masked)."""

    pid: int
    backend_start: datetime | None
    backend_type: str
    usename: str
    application_name: str
    datname: str
    query: str


@dataclass(frozen=True)
class ActionResult:
    outcome: str  # one of OUTCOMES
    message: str  # one line for the person who asked
    session: TargetSession | None = None
    audited: bool = field(default=True, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "signalled"


SIGNALLABLE_BACKEND = "client backend"


def refusal_reason(session: TargetSession, acting_pid: int, own_pids: frozenset[int],
                   expected_backend_start: datetime | None) -> str | None:
    """Why an action on `session` must not run, or None. Pure."""
    if session.pid == acting_pid:
        return f"pid {session.pid} is this action's own session"
    if session.pid in own_pids:
        return (f"pid {session.pid} is one of this Kasho Ops process's own sessions; "
                "Kasho Ops never signals its own sessions")
    if session.backend_type != SIGNALLABLE_BACKEND:
        return (f"pid {session.pid} is a {session.backend_type or 'server process'}, not a "
                "client session; only client sessions can be cancelled or terminated here")
    if expected_backend_start is not None and session.backend_start != expected_backend_start:
        return (f"pid {session.pid} now belongs to another backend (started "
                f"{session.backend_start:%Y-%m-%d %H:%M:%S %Z}); refresh and choose again")
    return None


def actions_connect_kwargs(actions_dsn: Secret, connect_timeout_seconds: int) -> dict[str, Any]:
    """libpq parameters for the acting session; our safety settings win over the DSN's."""
    return {**psycopg.conninfo.conninfo_to_dict(actions_dsn.reveal()),
            "application_name": ACTIONS_APPLICATION_NAME,
            **tcp_kwargs(connect_timeout_seconds),
            "options": "-c statement_timeout=10000 -c lock_timeout=500 "
                       "-c default_transaction_read_only=on",
            "autocommit": True}


_LOOKUP = marked("""
SELECT pid, backend_start, coalesce(backend_type, '') AS backend_type,
       coalesce(usename, '') AS usename,
       coalesce(application_name, '') AS application_name, coalesce(datname, '') AS datname,
       coalesce(left(query, 4000), '') AS query
FROM pg_stat_activity WHERE pid = %(pid)s
""")


def _signal_statement(action: str, server_version: int) -> sql.Composed:
    """Signal the pid only if it is still the client backend we looked at, not one of ours."""
    call = sql.SQL("{}(pid)").format(sql.Identifier(ACTIONS[action]))
    if action == "terminate" and server_version >= 140000:
        call = sql.SQL("{}(pid, {})").format(sql.Identifier(ACTIONS[action]),
                                             sql.Literal(TERMINATE_WAIT_MS))
    return sql.SQL(f"SELECT {QUERY_MARKER} {{}} FROM pg_stat_activity WHERE pid = %(pid)s "
                   "AND backend_start = %(backend_start)s AND pid <> pg_backend_pid() "
                   "AND backend_type = {} AND pid <> ALL(%(own_pids)s::integer[])").format(
        call, sql.Literal(SIGNALLABLE_BACKEND))


class AuditTrail:
    """Appends to kasho_ops.dba_actions in the metrics store, one short session per action."""

    def __init__(self, store_dsn: Secret) -> None:
        self._dsn = store_dsn

    def connect(self) -> psycopg.Connection[Any]:
        """A store session able to write the audit table; raises if it cannot."""
        return connect_audit(self._dsn, "dba_actions")

    @staticmethod
    def append(conn: psycopg.Connection[Any], request: ActionRequest, outcome: str,
               error: str | None, session: TargetSession | None) -> None:
        conn.execute("""
            INSERT INTO kasho_ops.dba_actions (actor, actor_role, target, pid, action, outcome,
                error, backend_start, usename, application_name, datname, query)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [request.actor.name, request.actor.role, request.target, request.pid,
             request.action, outcome, error,
             session.backend_start if session else request.backend_start,
             session.usename if session else None,
             session.application_name if session else None,
             session.datname if session else None,
             masked_query(session.query, AUDIT_QUERY_CHARS) if session else None])


def perform(request: ActionRequest, config: Config) -> ActionResult:
    """Run one audited action; never raises for an expected failure."""
    if request.action not in ACTIONS:
        raise ValueError(f"unknown action {request.action!r}; use one of {', '.join(ACTIONS)}")
    audit = AuditTrail(config.store.audit_writer_dsn)
    try:
        audit_conn = audit.connect()
    except (psycopg.Error, NoAnswer) as exc:
        return ActionResult("failed", "Nothing was done: the audit trail (kasho_ops.dba_actions "
                            f"in the metrics store) is unavailable: {describe_error(exc)}",
                            audited=False)
    with audit_conn:
        outcome, message, session = _act(request, config)
        error = None if outcome == "signalled" else message
        try:
            with audit_round_trip(audit_conn):
                audit.append(audit_conn, request, outcome, error, session)
        except (psycopg.Error, NoAnswer) as exc:
            log.error("dba action on %s pid %d (%s) was not audited: %s", request.target,
                      request.pid, outcome, describe_error(exc))
            return ActionResult(outcome, f"{message} (the audit row could not be written: "
                                f"{describe_error(exc)})", session, audited=False)
    return ActionResult(outcome, message, session)


def _act(request: ActionRequest, config: Config) -> tuple[str, str, TargetSession | None]:
    try:
        authorize(request.actor, cast(Permission, request.action))
    except AccessDenied as exc:
        return "denied", str(exc), None
    if not config.dashboard.actions_enabled:
        return "refused", ("actions are disabled; set [dashboard] actions_enabled = true to "
                           "allow cancel and terminate"), None
    try:
        target = config.target(request.target)
    except ConfigError as exc:
        return "refused", str(exc), None
    if target.actions_dsn is None:
        return "refused", (f"target {target.name} has no actions_dsn; configure a role with "
                           "pg_signal_backend (see kasho-ops.example.toml)"), None
    try:
        return _signal(request, target, config.collector.connect_timeout_seconds)
    except NoAnswer as exc:  # a frozen server: the page says so within seconds
        return "failed", f"{request.action} pid {request.pid} on {target.name}: {exc}", None
    except psycopg.Error as exc:
        return "failed", _failure(request, target, exc), None


def _failure(request: ActionRequest, target: Target, exc: psycopg.Error) -> str:
    reason = describe_error(exc)
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        reason += (" (the actions_dsn role needs pg_signal_backend, and no role but a "
                   "superuser may signal a superuser's session)")
    return f"{request.action} pid {request.pid} on {target.name}: {reason}"


def _signal(request: ActionRequest, target: Target,
            connect_timeout: int) -> tuple[str, str, TargetSession | None]:
    assert target.actions_dsn is not None
    notices: list[str] = []
    with connect_within(connection_class=TrackedConnection,
                        **actions_connect_kwargs(target.actions_dsn, connect_timeout)) as conn, \
            answer_within(conn, ACTION_ANSWER_SECONDS) as alarm:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        found = conn.cursor(row_factory=dict_row).execute(_LOOKUP, {"pid": request.pid}
                                                          ).fetchone()
        if found is None:
            return "not_found", f"pid {request.pid} is not running on {target.name}", None
        session = TargetSession(**found)
        if session.backend_start is None:
            return "failed", (f"the actions_dsn role of {target.name} cannot see who pid "
                              f"{request.pid} is; grant it pg_read_all_stats (or pg_monitor) "
                              "as well as pg_signal_backend"), session
        own_pids = own_backend_pids()
        reason = refusal_reason(session, conn.info.backend_pid, own_pids,
                                request.backend_start)
        if reason:
            return "refused", reason, session
        try:
            row = conn.execute(_signal_statement(request.action, conn.info.server_version),
                               {"pid": session.pid, "backend_start": session.backend_start,
                                "own_pids": sorted(own_pids)}).fetchone()
        except psycopg.Error as exc:
            if alarm.fired:
                raise NoAnswer(ACTION_ANSWER_SECONDS) from None
            return "failed", _failure(request, target, exc), session
    if row is None:
        return "not_found", f"pid {request.pid} ended before it could be signalled", session
    if not row[0]:
        detail = "; ".join(n for n in notices if n) or "the server did not signal it"
        return "failed", f"{request.action} pid {request.pid}: {detail}", session
    done = "cancel signal sent" if request.action == "cancel" else "backend terminated"
    return "signalled", f"pid {request.pid} on {target.name}: {done}", session
