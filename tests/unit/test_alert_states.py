"""Alert state transitions (pure): pending, firing after `for`, severity changes, resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from collectors.alerts.rules import AlertRule, RuleOverride, load_rules, parse_duration
from collectors.alerts.states import AlertEpisode, Observation, evaluate_rule, step
from collectors.core.errors import ConfigError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def rule(for_seconds: float = 60, below: bool = False, warning: float | None = 80,
         critical: float | None = 90) -> AlertRule:
    return AlertRule(name="connection_use", summary="Connections near the limit",
                     reads=("connection_limits",), unit="percent", warning=warning,
                     critical=critical, for_seconds=for_seconds, page="connections",
                     runbook="", sql="", below=below)


def seen(value: float, instance: str = "") -> Observation:
    return Observation(instance, value, f"{value} in use")


def test_a_value_over_warning_opens_a_pending_alert_that_fires_after_for() -> None:
    r = rule(for_seconds=60)
    opened = step(r, None, seen(85), T0)
    assert opened is not None and opened.kind == "open"
    assert (opened.alert.state, opened.alert.severity, opened.alert.threshold) == (
        "pending", "warning", 80)
    pending = opened.alert
    still = step(r, pending, seen(86), T0 + timedelta(seconds=30))
    assert still is not None and (still.kind, still.alert.state) == ("update", "pending")
    fired = step(r, still.alert, seen(87), T0 + timedelta(seconds=60))
    assert fired is not None and fired.kind == "fire"
    assert (fired.alert.firing_since, fired.alert.value, fired.alert.pending_since) == (
        T0 + timedelta(seconds=60), 87, T0)


def test_for_zero_fires_at_once_and_a_pending_alert_that_clears_is_dropped() -> None:
    assert step(rule(for_seconds=0), None, seen(95), T0).alert.state == "firing"  # type: ignore[union-attr]
    pending = step(rule(), None, seen(85), T0).alert  # type: ignore[union-attr]
    dropped = step(rule(), pending, seen(10), T0 + timedelta(seconds=5))
    assert dropped is not None and dropped.kind == "drop"
    assert step(rule(), pending, None, T0 + timedelta(seconds=5)).kind == "drop"  # type: ignore[union-attr]


def firing(severity: str = "warning", value: float = 85) -> AlertEpisode:
    return AlertEpisode(id=7, rule="connection_use", instance="", state="firing",
                        severity=severity, value=value, threshold=80, last_value=value,  # type: ignore[arg-type]
                        peak_value=value, detail="", pending_since=T0, firing_since=T0)


def test_a_firing_alert_follows_its_severity_and_keeps_the_triggering_value() -> None:
    up = step(rule(), firing(), seen(93), T0 + timedelta(minutes=1))
    assert up is not None and (up.alert.severity, up.alert.value, up.alert.threshold) == (
        "critical", 93, 90)
    down = step(rule(), up.alert, seen(84), T0 + timedelta(minutes=2))
    assert down is not None
    assert (down.alert.severity, down.alert.value, down.alert.last_value,
            down.alert.peak_value) == ("warning", 93, 84, 93)


def test_a_firing_alert_resolves_when_the_condition_ends_or_its_instance_vanishes() -> None:
    ended = step(rule(), firing(), seen(20), T0 + timedelta(minutes=3))
    assert ended is not None and (ended.kind, ended.alert.state, ended.alert.last_value) == (
        "resolve", "resolved", 20)
    gone = step(rule(), firing(), None, T0 + timedelta(minutes=3))
    assert gone is not None and gone.alert.resolved_at == T0 + timedelta(minutes=3)


def test_below_rules_fire_on_low_values() -> None:
    forecast = rule(below=True, warning=48, critical=12, for_seconds=0)
    assert forecast.severity_of(100) is None
    assert forecast.severity_of(40) == "warning"
    assert forecast.severity_of(5) == "critical"


def test_evaluate_rule_handles_every_instance_once() -> None:
    changes = evaluate_rule(rule(for_seconds=0), [seen(95, "a"), seen(50, "b")],
                            {"c": firing()}, T0)
    assert [(c.kind, c.alert.instance) for c in changes] == [("open", "a"), ("resolve", "")]


def test_durations_and_overrides() -> None:
    assert [parse_duration(v, "x") for v in (90, "90s", "5m", "1h", "1d", "250ms")] == [
        90, 90, 300, 3600, 86400, 0.25]
    with pytest.raises(ConfigError, match="duration"):
        parse_duration("soon", "for")
    rules = load_rules()
    # Every rule of issue 12 §1.
    assert set(rules) >= {"connection_use", "blocked_sessions", "long_transaction",
                          "idle_in_transaction", "deadlocks", "statement_regression",
                          "collector_stale", "target_down", "replication_lag",
                          "inactive_slots", "archiving_failing", "last_backup_age",
                          "restore_drill", "wraparound_age", "disk_full_forecast",
                          "dead_tuple_ratio", "pending_backlog_age",
                          "transaction_failure_rate"}
    assert rules["long_transaction"].params["exclude_applications"] == ["pg_dump", "pg_repack"]


def judged_rule(for_seconds: float = 0) -> AlertRule:
    return AlertRule(name="last_backup_age", summary="No recent good backup",
                     reads=("recovery_states",), unit="hours", warning=None, critical=None,
                     for_seconds=for_seconds, page="backups", runbook="", sql="",
                     judged_by="recovery_states")


def test_a_rule_judged_by_stored_states_takes_their_severity_and_threshold() -> None:
    r = judged_rule()
    opened = step(r, None, Observation("backup_age", 30.5, "30.5 h ago", "critical", 26.0), T0)
    assert opened is not None
    assert (opened.alert.state, opened.alert.severity, opened.alert.value,
            opened.alert.threshold) == ("firing", "critical", 30.5, 26.0)
    lower = step(r, opened.alert, Observation("backup_age", 31, "", "warning", 24.0), T0)
    assert lower is not None and (lower.alert.severity, lower.alert.threshold) == (
        "warning", 24.0)
    for judged_fine in ("ok", "unknown"):
        resolved = step(r, opened.alert, Observation("backup_age", 1, "", judged_fine, 26), T0)
        assert resolved is not None and resolved.kind == "resolve"
    assert step(r, None, Observation("backup_age", 1.0, "", "ok", 26.0), T0) is None
    with pytest.raises(ValueError, match="recovery_states"):
        r.severity_of(1.0)


RECOVERY_STATES = ("archiving", "archive_backlog", "pgbackrest", "full_backup_age", "backup_age",
                   "backup_errors", "wal_gap", "pitr_window", "slot_retention",
                   "replication_lag_bytes", "replication_lag_seconds", "restore_drill")


def test_a_judged_rule_refuses_thresholds_of_its_own() -> None:
    rules = load_rules()
    judged = [n for n, r in rules.items() if r.judged_by == "recovery_states"]
    assert set(judged) == {"last_backup_age", "restore_drill", "archiving_failing",
                           "recovery_gap", "pitr_window", "replication_lag",
                           "replication_lag_bytes", "inactive_slots"}
    # Every state collectors/backups/states.py judges is raised by exactly one rule.
    covered = [s for n in judged for s in rules[n].params["states"]]
    assert sorted(covered) == sorted(RECOVERY_STATES)
    assert all(rules[n].warning is None and rules[n].critical is None for n in judged)
    with pytest.raises(ConfigError, match=r"alerts.rules.last_backup_age: .*\[backups\]"):
        load_rules({"last_backup_age": RuleOverride(warning=12)})
    assert not load_rules({"last_backup_age": RuleOverride(enabled=False)})[
        "last_backup_age"].enabled
