"""What operators do about alerts from the dashboard: silence them, end a silence early,
acknowledge one. Each is one row in kasho_ops.alert_actions, the append-only table that is
both the audit trail and the source of truth of silences and acknowledgements.

The role check is `collectors.core.access.authorize` (silence and acknowledge need an
operator), made here as well as by the page, so a hidden button is never the only check; a
refused attempt is recorded too. Rows are written through the store's audit role
([store] audit_dsn: INSERT on the audit tables only), checked before anything is done.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from collectors.actions.audit import connect_audit
from collectors.alerts.silences import Matcher
from collectors.core.access import AccessDenied, Actor, Permission, authorize
from collectors.core.config import StoreSettings
from collectors.core.connections import describe_error
from collectors.core.errors import KashoOpsError

TABLE = "alert_actions"
MAX_SILENCE = timedelta(days=30)
INSERT = """
    INSERT INTO kasho_ops.alert_actions
        (actor, actor_role, action, outcome, target, alert_id, silence_id, matchers,
         starts_at, ends_at, comment)
    VALUES (%(actor)s, %(actor_role)s, %(action)s, %(outcome)s, %(target)s, %(alert_id)s,
            %(silence_id)s, %(matchers)s, %(starts_at)s, %(ends_at)s, %(comment)s)
    RETURNING id"""


class AlertActionError(KashoOpsError):
    """A silence or acknowledgement that cannot be recorded; the message says why."""


def _record(store: StoreSettings, row: dict[str, Any]) -> int:
    values = {"target": None, "alert_id": None, "silence_id": None, "matchers": None,
              "starts_at": None, "ends_at": None, "comment": "", **row}
    try:
        with connect_audit(store.audit_writer_dsn, TABLE) as conn:
            found = conn.execute(INSERT, values).fetchone()
    except psycopg.Error as exc:
        raise AlertActionError(f"cannot record the {row['action'].replace('_', ' ')} in the "
                               f"audit trail ({describe_error(exc)}); nothing was changed") \
            from None
    assert found is not None
    return int(found[0])


def _authorize(store: StoreSettings, actor: Actor | None, permission: Permission,
               row: dict[str, Any]) -> None:
    try:
        authorize(actor, permission)
    except AccessDenied:
        if actor is not None:
            _record(store, {**row, "actor": actor.name, "actor_role": actor.role,
                            "outcome": "denied"})
        raise


def create_silence(store: StoreSettings, actor: Actor | None, matchers: Sequence[Matcher],
                   starts_at: datetime, ends_at: datetime, comment: str) -> int:
    """Record a silence; returns its id. Raises AccessDenied or AlertActionError."""
    row: dict[str, Any] = {"action": "silence", "comment": comment.strip(),
                           "matchers": json.dumps([m.as_json() for m in matchers]),
                           "starts_at": starts_at, "ends_at": ends_at,
                           "target": next((m.value for m in matchers
                                           if m.label == "target" and m.op == "="), None)}
    _authorize(store, actor, "silence", row)
    assert actor is not None
    if not matchers:
        raise AlertActionError("a silence needs at least one matcher (rule=…, target=…)")
    if not comment.strip():
        raise AlertActionError("say why: a silence needs a comment (who is on it, which "
                               "ticket, what is expected)")
    if ends_at <= starts_at:
        raise AlertActionError("a silence must end after it starts")
    if ends_at - starts_at > MAX_SILENCE:
        raise AlertActionError("a silence may last at most 30 days; fix the rule's thresholds "
                               "in the config instead")
    return _record(store, {**row, "actor": actor.name, "actor_role": actor.role,
                            "outcome": "done"})


def expire_silence(store: StoreSettings, actor: Actor | None, silence_id: int,
                   comment: str = "") -> int:
    """End a silence now."""
    row: dict[str, Any] = {"action": "expire_silence", "silence_id": silence_id,
                           "comment": comment.strip()}
    _authorize(store, actor, "silence", row)
    assert actor is not None
    return _record(store, {**row, "actor": actor.name, "actor_role": actor.role,
                           "outcome": "done"})


def acknowledge(store: StoreSettings, actor: Actor | None, alert_id: int, target: str,
                comment: str = "") -> int:
    """Say someone is on an alert (it keeps firing and notifying; the home page shows who)."""
    row: dict[str, Any] = {"action": "acknowledge", "alert_id": alert_id, "target": target,
                           "comment": comment.strip()}
    _authorize(store, actor, "acknowledge", row)
    assert actor is not None
    return _record(store, {**row, "actor": actor.name, "actor_role": actor.role,
                           "outcome": "done"})
