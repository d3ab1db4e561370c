"""Pure logic of the on-call home: alerts as people read them, one status line per target,
and the timeline of what changed (restarts, configuration, failovers, statistics resets,
Kasho schema migrations, collector gaps, alerts). DataFrames in, DataFrames or events out;
no Streamlit, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from collectors.alerts.rules import AlertRule
from collectors.alerts.silences import Silence, alert_labels, matchers_from_json, silencing
from collectors.alerts.wording import AlertView, format_duration, view_of

SEVERITY_MARKS = {"critical": "critical", "warning": "warning"}
# A group's (and an area's) mark, worst last; the cell text and its colours.
MARKS = ("never", "ok", "late", "warning", "bad")
MARK_TEXT = {"never": "—", "ok": "ok", "late": "late", "warning": "warning", "bad": "problem"}
MARK_STYLE = {"ok": "background-color: #dafbe1; color: #116329",
              "late": "background-color: #fff8c5; color: #7d4e00",
              "warning": "background-color: #fff1e5; color: #953800",
              "bad": "background-color: #ffebe9; color: #a40e26; font-weight: 600",
              "never": "color: #6e7781"}
STATE_STYLE = {"up": MARK_STYLE["ok"], "down": MARK_STYLE["bad"], "no data": MARK_STYLE["never"],
               "critical": MARK_STYLE["bad"], "warning": MARK_STYLE["warning"]}
# The target line shows one mark per area (the worst of its groups); groups not listed
# here (a feature added later) show under Other. The problems table names the groups.
AREAS: dict[str, tuple[str, ...]] = {
    "connections": ("connections", "connection_limits", "session_ages", "transaction_ages",
                    "active_sessions", "pgbouncer_pools", "pgbouncer_databases",
                    "pgbouncer_stats", "pgbouncer_clients", "pgbouncer_servers"),
    "locks & waits": ("lock_waits", "wait_events", "prepared_transactions"),
    "queries": ("query_stats", "query_stats_info"),
    "server": ("server_state", "server_settings", "database_stats", "checkpointer",
               "io_stats", "buffer_cache", "extensions"),
    "replication & backups": ("wal_archiving", "wal_archive_counts", "wal_archive_backlog",
                              "replication_standbys", "replication_slots", "recovery_status",
                              "basebackup_progress", "pgbackrest", "recovery_states"),
    "storage": ("database_size", "disk_usage", "disk_capacity", "schema_size", "table_stats",
                "index_stats", "relation_summary", "bloat_estimate", "maintenance_progress",
                "autovacuum_status", "database_wraparound", "xmin_horizon"),
    "business": ("business_transactions", "business_pending", "business_signups",
                 "business_balances", "kasho_schema_version"),
    "security": ("security_settings", "security_roles", "security_hba", "security_access",
                 "security_ssl"),
}
EVENT_KINDS = ("restart", "failover", "configuration", "pending restart", "statistics reset",
               "schema migration", "collector gap", "alert fired", "alert resolved")


def _time(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    converted: datetime = pd.Timestamp(value).to_pydatetime()
    return converted


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def silences_from(frame: pd.DataFrame) -> list[Silence]:
    return [Silence(int(r.id), matchers_from_json(r.matchers), _time(r.starts_at),  # type: ignore[arg-type]
                    _time(r.effective_end), str(r.created_by), str(r.comment))  # type: ignore[arg-type]
            for r in frame.itertuples(index=False)]


def alert_views(frame: pd.DataFrame, rules: Mapping[str, AlertRule],
                active_silences: Sequence[Silence], now: datetime) -> list[AlertView]:
    """The stored alerts with their rules' words, silence and acknowledgement."""
    views = []
    for r in frame.itertuples(index=False):
        labels = alert_labels(r.target, r.rule, r.instance, r.severity)
        silence = (silencing(active_silences, labels, now) if r.state != "resolved" else None)
        views.append(view_of(
            rules.get(r.rule), id=int(r.id), target=r.target, rule_name=r.rule,
            instance=r.instance, state=r.state, severity=r.severity, value=float(r.value),
            threshold=float(r.threshold), last_value=float(r.last_value), detail=r.detail,
            pending_since=_time(r.pending_since),  # type: ignore[arg-type]
            firing_since=_time(r.firing_since), resolved_at=_time(r.resolved_at),
            silenced_by=silence.id if silence else None,
            acknowledged_by=_text(r.acknowledged_by) or None))
    return views


# What fired, where to look and why first (the detail is the widest column): a table wider
# than the page scrolls with severity and alert pinned.
FIRING_COLUMNS = ["severity", "alert", "target", "explained on", "detail", "for", "value",
                  "threshold", "now", "since (UTC)", "instance", "handled", "id"]


def firing_table(views: Iterable[AlertView], now: datetime) -> pd.DataFrame:
    """Firing alerts, critical first then oldest first: what, since when, the value, and the
    page that explains it (a relative link keeping the target)."""
    firing = sorted((v for v in views if v.state == "firing"),
                    key=lambda v: (v.severity != "critical", v.firing_since or v.pending_since))
    rows = [{
        "severity": SEVERITY_MARKS[v.severity],
        "alert": v.summary,
        "target": v.target,
        "instance": v.instance or "—",
        "since (UTC)": (v.firing_since or v.pending_since).strftime("%Y-%m-%d %H:%M:%S"),
        "for": format_duration((now - (v.firing_since or v.pending_since)).total_seconds()),
        "value": v.value_text,
        "threshold": v.threshold_text,
        "now": _format_now(v),
        "explained on": f"/{v.page}?target={v.target}" if v.page else None,
        "handled": _handled(v),
        "detail": v.detail,
        "id": v.id,
    } for v in firing]
    return pd.DataFrame(rows, columns=FIRING_COLUMNS)


def styled_firing(table: pd.DataFrame) -> Styler:
    return table.style.map(lambda s: STATE_STYLE.get(s, ""), subset=["severity"])


def _format_now(view: AlertView) -> str:
    return AlertView(**{**view.__dict__, "value": view.last_value}).value_text


def _handled(view: AlertView) -> str:
    parts = []
    if view.acknowledged_by:
        parts.append(f"acknowledged by {view.acknowledged_by}")
    if view.silenced_by is not None:
        parts.append(f"silenced (#{view.silenced_by})")
    return ", ".join(parts) or "—"


def pending_table(views: Iterable[AlertView], now: datetime,
                  rules: Mapping[str, AlertRule]) -> pd.DataFrame:
    rows = [{"alert": v.summary, "target": v.target, "instance": v.instance or "—",
             "pending for": format_duration((now - v.pending_since).total_seconds()),
             "fires after": format_duration(rules[v.rule].for_seconds) if v.rule in rules
             else "—", "value": v.value_text, "severity": v.severity}
            for v in views if v.state == "pending"]
    return pd.DataFrame(rows, columns=["alert", "target", "instance", "pending for",
                                       "fires after", "value", "severity"])


def resolved_table(views: Iterable[AlertView]) -> pd.DataFrame:
    rows = [{"alert": v.summary, "target": v.target, "instance": v.instance or "—",
             "fired (UTC)": (v.firing_since or v.pending_since).strftime("%Y-%m-%d %H:%M"),
             "resolved (UTC)": v.resolved_at.strftime("%Y-%m-%d %H:%M") if v.resolved_at
             else "", "lasted": format_duration((v.resolved_at - (
                 v.firing_since or v.pending_since)).total_seconds()) if v.resolved_at else "",
             "peak severity": v.severity, "triggering value": v.value_text}
            for v in views if v.state == "resolved" and v.firing_since is not None]
    return pd.DataFrame(rows, columns=["alert", "target", "instance", "fired (UTC)",
                                       "resolved (UTC)", "lasted", "peak severity",
                                       "triggering value"])


# -- targets -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupHealth:
    group: str
    mark: str  # one of MARKS
    why: str


def group_health(runs: pd.DataFrame, intervals: Mapping[str, int], stale_after: float,
                 alerts_by_group: Mapping[str, str]) -> list[GroupHealth]:
    """One target's groups: red when failing, stale or reading a critical alert; amber when
    late (over 1.5 intervals) or reading a warning; grey when never collected."""
    result = []
    by_group = {r.metric_group: r for r in runs.itertuples(index=False)}
    for group, interval in intervals.items():
        row = by_group.get(group)
        last_run = _time(row.last_run_at) if row is not None else None
        last_ok = _time(row.last_success_at) if row is not None else None
        now = _time(row.store_now) if row is not None else None
        if row is None or last_run is None:
            result.append(GroupHealth(group, "never", "never collected"))
            continue
        age = (now - last_ok).total_seconds() if last_ok and now else None
        alert = alerts_by_group.get(group)
        if _text(row.last_error):
            mark, why = "bad", f"latest run failed: {_text(row.last_error)}"
        elif age is None or age > stale_after * interval:
            mark, why = "bad", "stale"
        elif alert == "critical":
            mark, why = "bad", "critical alert"
        elif alert == "warning":
            mark, why = "warning", "warning alert"
        elif age > 1.5 * interval:
            mark, why = "late", f"last collected {format_duration(age)} ago"
        else:
            mark, why = "ok", "ok"
        result.append(GroupHealth(group, mark, why))
    return result


def alerts_by_group(views: Iterable[AlertView], target: str,
                    rules: Mapping[str, AlertRule]) -> dict[str, str]:
    """The worst firing severity per metric group its rule reads, for one target."""
    worst: dict[str, str] = {}
    for view in views:
        if view.target != target or view.state != "firing" or view.rule not in rules:
            continue
        for group in rules[view.rule].groups:
            if worst.get(group) != "critical":
                worst[group] = view.severity
    return worst


def area_of(group: str) -> str:
    return next((area for area, groups in AREAS.items() if group in groups), "other")


def area_marks(health: Iterable[GroupHealth]) -> dict[str, str]:
    """The worst mark of each area's collected groups, in AREAS order (Other last)."""
    worst: dict[str, str] = {}
    for item in health:
        area = area_of(item.group)
        if MARKS.index(item.mark) > MARKS.index(worst.get(area, "never")):
            worst[area] = item.mark
        worst.setdefault(area, item.mark)
    order = [*AREAS, "other"]
    return {area: worst[area] for area in order if area in worst}


def target_lines(targets: Sequence[str], runs: pd.DataFrame, states: pd.DataFrame,
                 views: Sequence[AlertView], intervals: Mapping[str, int], stale_after: float,
                 rules: Mapping[str, AlertRule]) -> pd.DataFrame:
    """One line per target: up or down, primary or standby, firing alerts, and one mark per
    area of metric groups (the worst of its groups: ok, late, warning, problem; — when none
    of them is collected)."""
    lines = []
    for target in targets:
        own = runs[runs["target"] == target] if not runs.empty else runs
        health = group_health(own, intervals, stale_after, alerts_by_group(views, target, rules))
        state = states[states["target"] == target] if not states.empty else states
        recovery = state["in_recovery"].iloc[0] if not state.empty else None
        firing = [v for v in views if v.target == target and v.state == "firing"]
        line: dict[str, Any] = {
            "target": target,
            "state": _target_state(own),
            "role": ("standby" if recovery is True else "primary" if recovery is False
                     else "—"),
            "firing": (f"{sum(v.severity == 'critical' for v in firing)} critical, "
                       f"{sum(v.severity == 'warning' for v in firing)} warning"
                       if firing else "none"),
        }
        line.update({area: MARK_TEXT[mark] for area, mark in area_marks(health).items()})
        lines.append(line)
    return pd.DataFrame(lines).fillna("—")


def styled_target_lines(lines: pd.DataFrame) -> Styler:
    """Area cells coloured green, amber, orange or red; the state cell too."""
    by_text = {text: MARK_STYLE[mark] for mark, text in MARK_TEXT.items()}
    areas = [c for c in lines.columns if c not in ("target", "state", "role", "firing")]
    styled = lines.style.map(lambda v: by_text.get(v, ""), subset=areas)
    return styled.map(lambda v: STATE_STYLE.get(v, ""), subset=["state"])


def styled_problems(problems: pd.DataFrame) -> Styler:
    by_text = {text: MARK_STYLE[mark] for mark, text in MARK_TEXT.items()}
    return problems.style.map(lambda v: by_text.get(v, ""), subset=["state"])


def _target_state(runs: pd.DataFrame) -> str:
    """Up when any group's latest run succeeded; down when every group's latest run failed."""
    if runs.empty or runs["last_run_at"].isna().all():
        return "no data"
    ran = runs[runs["last_run_at"].notna()]
    if ran["last_error"].isna().any():
        return "up"
    return "down"


def group_problems(targets: Sequence[str], runs: pd.DataFrame, views: Sequence[AlertView],
                   intervals: Mapping[str, int], stale_after: float,
                   rules: Mapping[str, AlertRule]) -> pd.DataFrame:
    """Every group that is not green, with why (the target line's marks in words)."""
    rows = []
    for target in targets:
        own = runs[runs["target"] == target] if not runs.empty else runs
        for health in group_health(own, intervals, stale_after,
                                   alerts_by_group(views, target, rules)):
            if health.mark not in ("ok", "never"):
                rows.append({"target": target, "area": area_of(health.group),
                             "group": health.group, "state": MARK_TEXT[health.mark],
                             "why": health.why})
    return pd.DataFrame(rows, columns=["target", "area", "group", "state", "why"])


# -- what changed ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Event:
    at: datetime
    target: str
    kind: str  # one of EVENT_KINDS
    what: str


@dataclass(frozen=True)
class SettingsChange:
    """A configuration change seen between two server_state samples of a target."""

    target: str
    before: datetime
    after: datetime


def state_events(states: pd.DataFrame) -> tuple[list[Event], list[SettingsChange]]:
    """Restarts, failovers, configuration changes and new pending restarts between
    consecutive server_state samples of each target (the first sample is the base)."""
    events: list[Event] = []
    changes: list[SettingsChange] = []
    if states.empty:
        return events, changes
    for target, samples in states.sort_values("collected_at").groupby("target", sort=True):
        previous = None
        for row in samples.itertuples(index=False):
            if previous is not None:
                at = _time(row.collected_at)
                assert at is not None
                started, was = _time(row.started_at), _time(previous.started_at)
                if started != was:
                    events.append(Event(started or at, str(target), "restart",
                                        f"server started at {_stamp(started)} (was up since "
                                        f"{_stamp(was)})"))
                if bool(row.in_recovery) != bool(previous.in_recovery):
                    events.append(Event(at, str(target), "failover",
                                        "promoted: now a primary" if not row.in_recovery
                                        else "now a standby (in recovery)"))
                if row.settings_digest != previous.settings_digest:
                    changes.append(SettingsChange(str(target), _time(previous.collected_at),  # type: ignore[arg-type]
                                                  at))
                elif _time(row.conf_loaded_at) != _time(previous.conf_loaded_at) and \
                        _time(row.started_at) == _time(previous.started_at):
                    events.append(Event(_time(row.conf_loaded_at) or at, str(target),
                                        "configuration", "configuration reloaded, no setting "
                                        "changed"))
                if row.pending_restart_settings > previous.pending_restart_settings:
                    events.append(Event(at, str(target), "pending restart",
                                        f"{row.pending_restart_settings} setting(s) changed "
                                        "wait for a restart"))
            previous = row
    return events, changes


def _stamp(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "an unknown time"


def _value(row: Any) -> str:
    unit = _text(row.unit)
    return f"{row.setting}{' ' + unit if unit else ''}"


def settings_diff(frame: pd.DataFrame) -> list[str]:
    """What changed between the 'before' and 'after' server_settings samples, one line per
    setting: 'work_mem: 4096 kB -> 65536 kB', '+ name = value', '- name (back to default)'."""
    before = {r.name: r for r in frame[frame["side"] == "before"].itertuples(index=False)}
    after = {r.name: r for r in frame[frame["side"] == "after"].itertuples(index=False)}
    if not before or not after:
        return []
    lines = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        pending = " (waits for a restart)" if new is not None and new.pending_restart else ""
        if old is None and new is not None:
            lines.append(f"+ {name} = {_value(new)}{pending}")
        elif new is None and old is not None:
            lines.append(f"- {name} (back to its default)")
        elif old is not None and new is not None and (
                old.setting != new.setting or old.unit != new.unit):
            lines.append(f"{name}: {_value(old)} -> {_value(new)}{pending}")
    return lines


def timeline(state_changes: Iterable[Event], settings: Iterable[tuple[SettingsChange, list[str]]],
             resets: pd.DataFrame, versions: pd.DataFrame, gaps: pd.DataFrame,
             views: Iterable[AlertView], start: datetime, end: datetime) -> pd.DataFrame:
    """Every event in (start, end], newest first: at, target, kind, what."""
    events = list(state_changes)
    for change, lines in settings:
        events.append(Event(change.after, change.target, "configuration",
                            "; ".join(lines) if lines else
                            "settings changed (values not sampled yet)"))
    for r in resets.itertuples(index=False):
        events.append(Event(_time(r.seen_at) or start, r.target, "statistics reset",
                            f"{r.scope}: statistics reset at {_stamp(_time(r.reset_at))}"))
    for r in versions.itertuples(index=False):
        old = "none" if pd.isna(r.previous_version) else f"{int(r.previous_version)}"
        new = "none" if pd.isna(r.version) else f"{int(r.version)}"
        dirty = " (dirty: the migration failed half-way; fix it, then force the version)" \
            if bool(r.dirty) else ""
        what = (f"Kasho schema version {old} -> {new}{dirty}" if old != new
                else f"Kasho schema version {new}: dirty flag "
                     f"{'set' if r.dirty else 'cleared'}{dirty}")
        events.append(Event(_time(r.seen_at), r.target, "schema migration", what))  # type: ignore[arg-type]
    for r in gaps.itertuples(index=False):
        events.append(Event(_time(r.gap_start), r.target, "collector gap",  # type: ignore[arg-type]
                            f"no collection for {format_duration(r.seconds)} (until "
                            f"{_stamp(_time(r.gap_end))})"))
    for view in views:
        if view.firing_since is not None:
            events.append(Event(view.firing_since, view.target, "alert fired",
                                f"{view.severity}: {view.summary}"
                                + (f" ({view.instance})" if view.instance else "")
                                + f", {view.value_text}"))
        if view.resolved_at is not None and view.firing_since is not None:
            events.append(Event(view.resolved_at, view.target, "alert resolved",
                                view.summary + (f" ({view.instance})" if view.instance
                                                else "")))
    rows = [e.__dict__ for e in events if start < e.at <= end]
    frame = pd.DataFrame(rows, columns=["at", "target", "kind", "what"])
    return frame.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)
