"""The alerts' rows in the metrics store: open alerts, the changes an evaluation writes,
silences and the alerts as people see them. The thin typed layer between the evaluator,
the notifier, the pages and kasho_ops.alerts / alert_actions (no logic of its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from collectors.alerts.rules import AlertRule
from collectors.alerts.silences import Silence, alert_labels, matchers_from_json, silencing
from collectors.alerts.states import AlertEpisode, Change
from collectors.alerts.wording import AlertView, view_of

ALERT_COLUMNS = ("id", "rule", "instance", "state", "severity", "value", "threshold",
                 "last_value", "peak_value", "detail", "pending_since", "firing_since",
                 "resolved_at")
SELECT_ALERTS = sql.SQL("SELECT target, {} FROM kasho_ops.alerts").format(
    sql.SQL(", ").join(map(sql.Identifier, ALERT_COLUMNS)))


def episode(row: Mapping[str, Any]) -> AlertEpisode:
    return AlertEpisode(**{c: row[c] for c in ALERT_COLUMNS})


def open_alerts(conn: psycopg.Connection[Any],
                target: str) -> dict[str, dict[str, AlertEpisode]]:
    """The target's pending and firing alerts, by rule and instance."""
    found: dict[str, dict[str, AlertEpisode]] = {}
    rows = conn.cursor(row_factory=dict_row).execute(
        SELECT_ALERTS + sql.SQL(" WHERE target = %s AND state <> 'resolved'"),
        [target]).fetchall()
    for row in rows:
        found.setdefault(row["rule"], {})[row["instance"]] = episode(row)
    return found


def write_change(conn: psycopg.Connection[Any], target: str, change: Change,
                 now: datetime) -> AlertEpisode:
    """Store one change; returns the alert as stored (with its id once opened)."""
    alert = change.alert
    if change.kind == "drop":
        conn.execute("DELETE FROM kasho_ops.alerts WHERE id = %s AND state = 'pending'",
                     [alert.id])
        return alert
    values = {c: getattr(alert, c) for c in ALERT_COLUMNS if c != "id"}
    if change.kind == "open":
        insert = sql.SQL("INSERT INTO kasho_ops.alerts (target, last_evaluated_at, {}) "
                         "VALUES (%(target)s, %(now)s, {}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, values)),
            sql.SQL(", ").join(map(sql.Placeholder, values)))
        row = conn.execute(insert, {**values, "target": target, "now": now}).fetchone()
        assert row is not None
        return AlertEpisode(**{**values, "id": row[0]})
    update = sql.SQL("UPDATE kasho_ops.alerts SET last_evaluated_at = %(now)s, {} "
                     "WHERE id = %(id)s").format(sql.SQL(", ").join(
                         sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c))
                         for c in values))
    conn.execute(update, {**values, "id": alert.id, "now": now})
    return alert


def touch(conn: psycopg.Connection[Any], ids: Sequence[int], now: datetime) -> None:
    """Mark open alerts whose rule was evaluated without a change to them."""
    if ids:
        conn.execute("UPDATE kasho_ops.alerts SET last_evaluated_at = %s WHERE id = ANY(%s)",
                     [now, list(ids)])


def silences(conn: psycopg.Connection[Any], now: datetime,
             include_ended_since: datetime | None = None) -> list[Silence]:
    """Silences in force at `now` or starting later (and, with include_ended_since, those
    that ended since then)."""
    since = include_ended_since or now
    rows = conn.cursor(row_factory=dict_row).execute(
        "SELECT id, matchers, starts_at, effective_end, created_by, comment "
        "FROM kasho_ops.silences WHERE effective_end > %s ORDER BY id", [since]).fetchall()
    return [Silence(id=r["id"], matchers=matchers_from_json(r["matchers"]),
                    starts_at=r["starts_at"], effective_end=r["effective_end"],
                    created_by=r["created_by"], comment=r["comment"]) for r in rows]


def silenced_ids(target: str, alerts: Sequence[AlertEpisode], active: Sequence[Silence],
                 now: datetime) -> list[int]:
    """The ids of these alerts some silence covers now."""
    return [a.id for a in alerts if a.id is not None and silencing(
        active, alert_labels(target, a.rule, a.instance, a.severity), now) is not None]


def alert_views(conn: psycopg.Connection[Any], rules: Mapping[str, AlertRule],
                where: sql.SQL | sql.Composed, params: Mapping[str, Any], now: datetime,
                limit: int = 500) -> list[AlertView]:
    """Alerts as people see them (rule words, silence, acknowledgement), filtered by `where`
    (a condition on kasho_ops.alerts a, with bound parameters), newest first."""
    query = sql.SQL(
        "SELECT a.target, {}, k.acknowledged_by FROM kasho_ops.alerts a "
        "LEFT JOIN kasho_ops.alert_acknowledgements k ON k.alert_id = a.id "
        "WHERE {} ORDER BY a.pending_since DESC LIMIT {}").format(
            sql.SQL(", ").join(sql.Identifier("a", c) for c in ALERT_COLUMNS), where,
            sql.Literal(limit))
    rows = conn.cursor(row_factory=dict_row).execute(query, params).fetchall()
    active = silences(conn, now)
    views = []
    for row in rows:
        labels = alert_labels(row["target"], row["rule"], row["instance"], row["severity"])
        silence = silencing(active, labels, now) if row["state"] != "resolved" else None
        views.append(view_of(
            rules.get(row["rule"]), id=row["id"], target=row["target"], rule_name=row["rule"],
            instance=row["instance"], state=row["state"], severity=row["severity"],
            value=row["value"], threshold=row["threshold"], last_value=row["last_value"],
            detail=row["detail"], pending_since=row["pending_since"],
            firing_since=row["firing_since"], resolved_at=row["resolved_at"],
            silenced_by=silence.id if silence else None,
            acknowledged_by=row["acknowledged_by"]))
    return views
