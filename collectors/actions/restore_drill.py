"""Start a restore drill from the Backups page: an admin action, audited, in the background.

`start_drill` is the one entry point, and it checks everything itself (the page's hidden
button is never the only check):

- denied unless the actor's role permits `restore_drill` (admins), refused unless
  `[dashboard] actions_enabled`, refused for an unknown target or one without a
  pgBackRest stanza;
- refused while a drill of that target runs anywhere: the drill lock
  (collectors/backups/drill.py `hold_drill_lock`, a session advisory lock in the metrics
  store) is taken here, before anything starts, and held until the drill is recorded. The
  command and the collector's schedule take the same lock, so two dashboard replicas, a
  double click, a scheduled drill and `kasho-ops restore-drill` never overlap on one target.

Every attempt is one row in kasho_ops.restore_drill_starts with the actor and role (no
audit, no drill); a started drill is then one row in kasho_ops.restore_drills with
trigger 'dashboard' and the same actor.

The drill runs on a thread of the dashboard process rather than a child process: the lock
must be taken before the start is reported (a child would take it only after it started,
leaving a window for a second start), and the thread keeps the lock's session for exactly
the drill's life. A module-level thread survives Streamlit reruns and closed browser tabs;
it is not a daemon, so stopping the dashboard waits for the drill to finish, record itself
and remove its scratch copy.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from collectors.actions.audit import audit_round_trip, connect_audit
from collectors.backups.drill import hold_drill_lock, record_drill, run_drill
from collectors.core.access import AccessDenied, Actor, authorize
from collectors.core.config import Config, Target
from collectors.core.connections import describe_error
from collectors.core.errors import ConfigError, KashoOpsError, NoAnswer

log = logging.getLogger(__name__)

OUTCOMES = ("started", "denied", "refused", "failed")


@dataclass(frozen=True)
class DrillStartRequest:
    target: str
    actor: Actor  # who asked, and the role they held
    to: datetime | None = None  # recover to this time; None: the end of the archive


@dataclass(frozen=True)
class DrillStart:
    outcome: str  # one of OUTCOMES
    message: str  # one line for the person who asked
    audited: bool = field(default=True, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "started"


@dataclass(frozen=True)
class RunningDrill:
    """A drill this process started and has not recorded yet."""

    target: str
    actor: Actor
    started_at: datetime
    to: datetime | None


_running: dict[str, RunningDrill] = {}
_running_guard = threading.Lock()


def running_drill(target: str) -> RunningDrill | None:
    """The drill of `target` this dashboard process is running, if any."""
    with _running_guard:
        return _running.get(target)


class _Refused(Exception):
    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


def start_drill(config: Config, request: DrillStartRequest) -> DrillStart:
    """Start a restore drill of one target in the background, audited; never raises for an
    expected failure. Returns as soon as the drill has started (it takes minutes)."""
    try:
        audit = connect_audit(config.store.audit_writer_dsn, "restore_drill_starts")
    except (psycopg.Error, NoAnswer) as exc:
        return DrillStart("failed", "No drill was started: the audit trail "
                          "(kasho_ops.restore_drill_starts in the metrics store) is "
                          f"unavailable: {describe_error(exc)}", audited=False)
    with audit:
        lock: psycopg.Connection[Any] | None = None
        target: Target | None = None
        try:
            target, lock = _claim(config, request)
            result = DrillStart("started", _started_line(request))
        except _Refused as exc:
            result = DrillStart(exc.outcome, str(exc))
        try:
            _append(audit, request, result)
        except (psycopg.Error, NoAnswer) as exc:
            if lock is not None:
                lock.close()  # no audit, no drill
            return DrillStart("failed" if result.ok else result.outcome,
                              f"{'No drill was started' if result.ok else result.message}: "
                              f"the audit row could not be written: {describe_error(exc)}",
                              audited=False)
    if lock is not None and target is not None:
        running = RunningDrill(target.name, request.actor, datetime.now(UTC), request.to)
        with _running_guard:
            _running[target.name] = running
        threading.Thread(target=_drill, args=(config, target, running, lock),
                         name=f"kasho-ops-drill-{target.name}", daemon=False).start()
    return result


def _claim(config: Config, request: DrillStartRequest
           ) -> tuple[Target, psycopg.Connection[Any]]:
    try:
        authorize(request.actor, "restore_drill")
    except AccessDenied as exc:
        raise _Refused("denied", str(exc)) from None
    if not config.dashboard.actions_enabled:
        raise _Refused("refused", "actions are disabled; set [dashboard] actions_enabled = "
                       "true to allow restore drills from the dashboard")
    try:
        target = config.target(request.target)
    except ConfigError as exc:
        raise _Refused("refused", str(exc)) from None
    if target.pgbackrest is None:
        raise _Refused("refused", f"target {target.name} has no pgbackrest_stanza: a drill "
                       "restores from pgBackRest; add pgbackrest_stanza to its [[targets]] "
                       "table")
    try:
        lock = hold_drill_lock(config.store.audit_writer_dsn, target.name)
    except (psycopg.Error, NoAnswer) as exc:
        raise _Refused("failed", "cannot take the restore drill lock in the metrics store: "
                       f"{describe_error(exc)}") from None
    if lock is None:
        raise _Refused("refused", f"a restore drill of {target.name} is already running; "
                       "one at a time per target (wait for it to be recorded below)")
    return target, lock


def _started_line(request: DrillStartRequest) -> str:
    to = (f"to {request.to.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if request.to
          else "to the end of the archive")
    return (f"Restore drill of {request.target} started {to}; it takes minutes, and its "
            "result appears under Restore drills when it is recorded.")


def _drill(config: Config, target: Target, running: RunningDrill,
           lock: psycopg.Connection[Any]) -> None:
    try:
        result = run_drill(config, target, running.to, trigger="dashboard",
                           actor=running.actor)
        record_drill(config.store.audit_writer_dsn, result)
        log.log(logging.INFO if result.outcome == "passed" else logging.ERROR,
                "restore drill of %s started by %s %s in %.0f s%s", target.name,
                running.actor.name, result.outcome, result.duration_seconds,
                f": {result.error}" if result.error else "")
    except KashoOpsError as exc:
        log.error("restore drill of %s started by %s: %s", target.name, running.actor.name,
                  exc)
    except Exception:  # a thread's exception would vanish; log it and release the lock
        log.exception("restore drill of %s started by %s failed", target.name,
                      running.actor.name)
    finally:
        with _running_guard:
            _running.pop(target.name, None)
        lock.close()


def _append(conn: psycopg.Connection[Any], request: DrillStartRequest,
            result: DrillStart) -> None:
    with audit_round_trip(conn):
        conn.execute(
            "INSERT INTO kasho_ops.restore_drill_starts (actor, actor_role, target, "
            "requested_time, outcome, error) VALUES (%s, %s, %s, %s, %s, %s)",
            [request.actor.name, request.actor.role, request.target, request.to,
             result.outcome, None if result.ok else result.message])
