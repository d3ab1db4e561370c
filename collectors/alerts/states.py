"""How alerts move between states, as pure functions (no I/O), in Prometheus' terms.

A rule's condition yields one Observation per instance. An instance whose value reaches a
threshold opens an alert: pending, or firing at once when the rule's `for` is zero. A pending
alert fires once the condition has held for `for`; one that clears first is dropped (it never
fired). A firing alert follows its severity up and down and resolves when the condition no
longer holds, or when its instance is no longer reported at all. `value` is the triggering
value: the one that opened the alert, replaced when it fires and when its severity rises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from collectors.alerts.rules import SEVERITIES, AlertRule, Severity

State = Literal["pending", "firing", "resolved"]
ChangeKind = Literal["open", "update", "fire", "resolve", "drop"]


@dataclass(frozen=True)
class Observation:
    """One row of a rule's condition: what (instance), how much (value), in words (detail)."""

    instance: str
    value: float
    detail: str
    # For a rule judged_by stored states: the stored judgement ('ok' and 'unknown' do not
    # alert) and the threshold it was judged against.
    severity: str | None = None
    threshold: float | None = None


def judge(rule: AlertRule, observed: Observation | None) -> tuple[Severity | None, float]:
    """The severity an observation reaches under its rule, and the threshold it crossed."""
    if observed is None:
        return None, 0.0
    if rule.judged_by is not None:
        stored = observed.severity if observed.severity in SEVERITIES else None
        threshold = observed.threshold if observed.threshold is not None else observed.value
        return stored, threshold
    severity = rule.severity_of(observed.value)
    return severity, rule.threshold(severity) if severity is not None else 0.0


@dataclass(frozen=True)
class AlertEpisode:
    """An alert as stored: `id` is None until it is written."""

    id: int | None
    rule: str
    instance: str
    state: State
    severity: Severity
    value: float
    threshold: float
    last_value: float
    peak_value: float
    detail: str
    pending_since: datetime
    firing_since: datetime | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    alert: AlertEpisode


def _worse(rule: AlertRule, a: float, b: float) -> float:
    return min(a, b) if rule.below else max(a, b)


def step(rule: AlertRule, current: AlertEpisode | None, observed: Observation | None,
         now: datetime) -> Change | None:
    """The change one evaluation makes to one instance's alert (None: nothing to write)."""
    severity, threshold = judge(rule, observed)
    if current is None:
        if observed is None or severity is None:
            return None
        fires = rule.for_seconds <= 0
        opened = AlertEpisode(
            id=None, rule=rule.name, instance=observed.instance,
            state="firing" if fires else "pending", severity=severity, value=observed.value,
            threshold=threshold, last_value=observed.value,
            peak_value=observed.value, detail=observed.detail, pending_since=now,
            firing_since=now if fires else None)
        return Change("open", opened)
    if observed is None or severity is None:
        if current.state == "pending":
            return Change("drop", current)
        last = observed.value if observed is not None else current.last_value
        detail = observed.detail if observed is not None else current.detail
        return Change("resolve", replace(current, state="resolved", resolved_at=now,
                                         last_value=last, detail=detail))
    seen = replace(current, last_value=observed.value, detail=observed.detail,
                   peak_value=_worse(rule, current.peak_value, observed.value))
    if current.state == "pending":
        held = (now - current.pending_since).total_seconds()
        if held >= rule.for_seconds:
            return Change("fire", replace(seen, state="firing", firing_since=now,
                                          severity=severity, value=observed.value,
                                          threshold=threshold))
        return Change("update", replace(seen, severity=severity, value=observed.value,
                                        threshold=threshold))
    if SEVERITIES.index(severity) > SEVERITIES.index(current.severity):
        return Change("update", replace(seen, severity=severity, value=observed.value,
                                        threshold=threshold))
    return Change("update", replace(seen, severity=severity,
                                    threshold=threshold))


def evaluate_rule(rule: AlertRule, observations: Iterable[Observation],
                  open_alerts: Mapping[str, AlertEpisode], now: datetime) -> list[Change]:
    """Every change one evaluation of `rule` makes, given its open alerts by instance."""
    observed = {o.instance: o for o in observations}
    changes = []
    for instance in sorted(observed.keys() | open_alerts.keys()):
        change = step(rule, open_alerts.get(instance), observed.get(instance), now)
        if change is not None:
            changes.append(change)
    return changes
