"""Evaluate the alert rules of one target against the metrics store and store what changed.

`Evaluator.after_run(group, target)` is what the collector calls once a group has run: on
the evaluator's own thread, once the store writer has written the run's rows, it evaluates
the rules that read that group (and, at most every META_EVALUATION_SECONDS, the rules that
read the run records), so alerts follow the data they read. One evaluation of a target is
one store transaction holding a transaction-level advisory lock on the target: two
collectors never evaluate the same target at once (the second skips), and a crash
mid-evaluation writes nothing. A rule is not evaluated while a group it reads is stale (no
successful run within stale_after_intervals of its interval): its open alerts keep their
state, and collector_stale says why.

After the changes, the notifications each receiver is owed are queued in the same
transaction (kasho_ops.notifications, one row per alert, receiver, event and severity: the
deduplication); `Notifier` delivers them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import PoolTimeout

from collectors.alerts import history
from collectors.alerts.rules import SEVERITIES, AlertRule, load_rules
from collectors.alerts.settings import AlertSettings
from collectors.alerts.states import AlertEpisode, Change, Observation, evaluate_rule
from collectors.core.connections import describe_error
from collectors.core.db import fetch_value
from collectors.core.errors import StoreUnavailable
from collectors.core.sqltext import mask_literals, statement_title
from collectors.core.store import MetricStore, RunRecord

log = logging.getLogger(__name__)
# pg_try_advisory_xact_lock(LOCK_CLASS, hashtext(target)): one evaluator per target.
LOCK_CLASS = 0x6B6F6E63  # "konc"
META_EVALUATION_SECONDS = 15.0
RULES_RUN_GROUP = "alert_rules"  # the run record of an evaluation that had errors
RESOLVED_NOTIFY_WINDOW = timedelta(days=1)
STATEMENT_TITLE_CHARS = 120
# How long an evaluation waits for the store writer to write the rows it reads.
FLUSH_SECONDS = 10.0


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation of one target did."""

    target: str
    evaluated_at: datetime
    changes: list[Change] = field(default_factory=list)
    open_alerts: list[AlertEpisode] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule: why it was not evaluated
    errors: dict[str, str] = field(default_factory=dict)  # rule: its query's error
    queued_notifications: int = 0
    locked_out: bool = False  # another evaluator held the target


QUEUE_FIRING = """
    INSERT INTO kasho_ops.notifications (alert_id, receiver, event, severity)
    SELECT a.id, %(receiver)s, 'firing', a.severity FROM kasho_ops.alerts a
    WHERE a.target = %(target)s AND a.state = 'firing'
      AND a.severity = ANY(%(severities)s) AND NOT (a.id = ANY(%(silenced)s))
    ON CONFLICT DO NOTHING"""
# A resolve is owed to a receiver that was told the alert fired.
QUEUE_RESOLVED = """
    INSERT INTO kasho_ops.notifications (alert_id, receiver, event, severity)
    SELECT a.id, %(receiver)s, 'resolved', a.severity FROM kasho_ops.alerts a
    WHERE a.target = %(target)s AND a.state = 'resolved' AND a.resolved_at > %(since)s
      AND EXISTS (SELECT 1 FROM kasho_ops.notifications n
                  WHERE n.alert_id = a.id AND n.receiver = %(receiver)s
                    AND n.event = 'firing' AND n.status = 'sent')
    ON CONFLICT DO NOTHING"""
LAST_SUCCESS = """
    SELECT g.metric_group, last_ok.started_at
    FROM unnest(%(groups)s::text[]) AS g(metric_group)
    LEFT JOIN LATERAL (
        SELECT r.started_at FROM kasho_ops.collector_runs r
        WHERE r.target = %(target)s AND r.metric_group = g.metric_group AND r.error IS NULL
        ORDER BY r.started_at DESC LIMIT 1) last_ok ON true"""


class Evaluator:
    def __init__(self, settings: AlertSettings, store: MetricStore,
                 intervals: Mapping[str, int], stale_after_intervals: float = 3.0,
                 rules: Mapping[str, AlertRule] | None = None) -> None:
        """`intervals`: the groups the collector runs, with their effective intervals."""
        self.settings = settings
        self.store = store
        self.intervals = dict(intervals)
        self.stale_after_intervals = stale_after_intervals
        all_rules = rules if rules is not None else load_rules(settings.rules,
                                                               settings.global_params)
        self.all_rules = dict(all_rules)
        self.rules = [r for r in all_rules.values() if r.enabled and set(r.groups)
                      <= set(self.intervals)]
        self.listeners: list[Callable[[Evaluation], None]] = []
        self._last_meta: dict[str, float] = {}
        self._lock = threading.Lock()
        # Evaluations queued by after_run: per target, the rules to evaluate (by name).
        self._pending: dict[str, dict[str, AlertRule]] = {}
        self._pending_changed = threading.Condition()
        self._evaluating = False
        self._worker: threading.Thread | None = None
        self._store_failing = False

    # -- when -------------------------------------------------------------------------------

    def rules_after(self, group: str, target: str) -> list[AlertRule]:
        """The rules to evaluate once `group` ran on `target`."""
        chosen = [r for r in self.rules if group in r.groups]
        now = time.monotonic()
        with self._lock:
            due = now - self._last_meta.get(target, float("-inf")) >= META_EVALUATION_SECONDS
            if due:
                self._last_meta[target] = now
        if due:
            chosen += [r for r in self.rules if r.reads_run_records and r not in chosen]
        return chosen

    def after_run(self, group: str, target: str, record: RunRecord | None = None) -> None:
        """The collector's hook: queues the evaluation and returns at once. Evaluations run
        on the evaluator's own thread, after the store writer has written what the runs
        queued, so alerting never holds a collection job (nor waits on a store that is down)
        and reads the rows of the run that triggered it."""
        if not self.settings.enabled:
            return
        rules = self.rules_after(group, target)
        if not rules:
            return
        with self._pending_changed:
            self._pending.setdefault(target, {}).update((r.name, r) for r in rules)
            if self._worker is None:
                self._worker = threading.Thread(target=self._evaluate_pending, daemon=True,
                                                name="kasho-ops-alert-evaluator")
                self._worker.start()
            self._pending_changed.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until every queued evaluation ran; False if time ran out."""
        deadline = time.monotonic() + timeout
        with self._pending_changed:
            while self._pending or self._evaluating:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._pending_changed.wait(left)
        return True

    def _evaluate_pending(self) -> None:
        while True:
            with self._pending_changed:
                while not self._pending:
                    self._pending_changed.wait()
                target, chosen = self._pending.popitem()
                self._evaluating = True
            try:
                self.store.flush(FLUSH_SECONDS)
                self._evaluate_logged(target, list(chosen.values()))
            finally:
                with self._pending_changed:
                    self._evaluating = False
                    self._pending_changed.notify_all()

    def _evaluate_logged(self, target: str, rules: Sequence[AlertRule]) -> None:
        """Evaluate; a store that fails is logged once until an evaluation succeeds again."""
        try:
            self.evaluate(target, rules)
        except (psycopg.Error, PoolTimeout, StoreUnavailable) as exc:
            if not self._store_failing:  # an outage the store writer has already logged
                reason = "" if isinstance(exc, StoreUnavailable) else (
                    f" ({describe_error(exc) if isinstance(exc, psycopg.Error) else exc})")
                log.warning("alert rules not evaluated while the store fails%s; "
                            "evaluations resume once it answers", reason)
            self._store_failing = True
            return
        except Exception:  # a bug here must not stop alerting for the other targets
            log.exception("alert evaluation of %s failed", target)
            return
        if self._store_failing:
            log.info("alert rules evaluated again: the store answers")
        self._store_failing = False

    # -- one evaluation ---------------------------------------------------------------------

    def evaluate(self, target: str, rules: Sequence[AlertRule] | None = None) -> Evaluation:
        rules = list(self.rules if rules is None else rules)
        with self.store.connection() as conn, conn.transaction():
            if not fetch_value(conn, "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
                               [LOCK_CLASS, target]):
                return Evaluation(target, datetime.now(UTC), locked_out=True)
            now: datetime = fetch_value(conn, "SELECT now()")
            evaluation = self._evaluate_locked(conn, target, rules, now)
        for listener in self.listeners:
            listener(evaluation)
        if evaluation.errors:
            self._record_errors(evaluation)
        return evaluation

    def _evaluate_locked(self, conn: psycopg.Connection[Any], target: str,
                         rules: Sequence[AlertRule], now: datetime) -> Evaluation:
        last_success = self._last_successes(conn, target, rules)
        existing = history.open_alerts(conn, target)
        evaluation = Evaluation(target, now)
        untouched: list[int] = []
        for rule in rules:
            fresh_after = self._fresh_after(rule, now)
            stale = [g for g in rule.groups if not _after(last_success.get(g), fresh_after)]
            if stale:
                evaluation.skipped[rule.name] = f"stale or never collected: {', '.join(stale)}"
                continue
            try:
                observations = self._observe(conn, target, rule, fresh_after)
            except psycopg.Error as exc:
                evaluation.errors[rule.name] = describe_error(exc)
                continue
            current = existing.get(rule.name, {})
            changes = evaluate_rule(rule, observations, current, now)
            changed = {c.alert.instance for c in changes}
            untouched += [a.id for i, a in current.items() if i not in changed and a.id]
            for change in changes:
                stored = history.write_change(conn, target, change, now)
                evaluation.changes.append(Change(change.kind, stored))
        history.touch(conn, untouched, now)
        evaluation.open_alerts.extend(
            a for alerts in history.open_alerts(conn, target).values() for a in alerts.values())
        queued = self._queue_notifications(conn, target, evaluation.open_alerts, now)
        return replace(evaluation, queued_notifications=queued)

    def _fresh_after(self, rule: AlertRule, now: datetime) -> datetime:
        slowest = max((self.intervals[g] for g in rule.groups), default=60)
        return now - timedelta(seconds=slowest * self.stale_after_intervals)

    def _last_successes(self, conn: psycopg.Connection[Any], target: str,
                        rules: Sequence[AlertRule]) -> dict[str, datetime | None]:
        groups = sorted({g for r in rules for g in r.groups})
        if not groups:
            return {}
        rows = conn.execute(LAST_SUCCESS, {"groups": groups, "target": target}).fetchall()
        return {group: started_at for group, started_at in rows}

    def _observe(self, conn: psycopg.Connection[Any], target: str, rule: AlertRule,
                 fresh_after: datetime) -> list[Observation]:
        params: dict[str, Any] = {
            **rule.params, "target": target, "fresh_after": fresh_after,
            "groups": list(self.intervals), "intervals": list(self.intervals.values())}
        with conn.transaction():  # a savepoint: a failing rule leaves the others' work
            rows = conn.cursor(row_factory=dict_row).execute(rule.sql, params).fetchall()
        return [Observation(str(r["instance"]), float(r["value"]),
                            with_statement(str(r["detail"] or ""), r.get("statement")),
                            r.get("severity"), _float_or_none(r.get("threshold")))
                for r in rows if r["value"] is not None]

    def _queue_notifications(self, conn: psycopg.Connection[Any], target: str,
                             open_alerts: Sequence[AlertEpisode], now: datetime) -> int:
        if not self.settings.webhooks:
            return 0
        active = history.silences(conn, now)
        silenced = history.silenced_ids(target, open_alerts, active, now)
        queued = 0
        for hook in self.settings.webhooks:
            severities = [s for s in SEVERITIES if hook.wants(s)]
            cursor = conn.execute(QUEUE_FIRING, {"receiver": hook.name, "target": target,
                                                 "severities": severities,
                                                 "silenced": silenced})
            queued += cursor.rowcount
            if hook.send_resolved:
                cursor = conn.execute(QUEUE_RESOLVED, {"receiver": hook.name, "target": target,
                                                       "since": now - RESOLVED_NOTIFY_WINDOW})
                queued += cursor.rowcount
        return queued

    def _record_errors(self, evaluation: Evaluation) -> None:
        """A rule whose query failed is a failed run in the store (every failure is data)."""
        error = "; ".join(f"rule {rule}: {reason}" for rule, reason in evaluation.errors.items())
        log.warning("alert rules on %s: %s", evaluation.target, error)
        self.store.write([], RunRecord(started_at=evaluation.evaluated_at,
                                       target=evaluation.target, metric_group=RULES_RUN_GROUP,
                                       duration_ms=0.0, rows_written=0, error=error))


def with_statement(detail: str, statement: str | None) -> str:
    """A detail followed by the statement it is about, named as every page names it (the
    lexer's title: sqlc name or first words, literals masked)."""
    if statement is None:
        return detail
    title = statement_title(mask_literals(statement), STATEMENT_TITLE_CHARS)
    return f"{detail}: {title.short(STATEMENT_TITLE_CHARS)}"


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _after(moment: datetime | None, bound: datetime) -> bool:
    return moment is not None and moment > bound
