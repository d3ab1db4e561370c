"""Recovery states (pure): from a target's latest facts, is it recoverable, and to when?

Each state has a severity (ok, warning, critical, or unknown when the facts are missing or
stale), the value it was judged on, the threshold, and one line saying why. The collector
stores them in `kasho_ops.recovery_states`; alerting and the pages read them from there.

  archiving                critical: the last archive attempt failed (nothing archived since);
                           warning: archive_mode off on a primary. Value: failures in 15 min
  archive_backlog          warning: more .ready WAL files than max_ready_wal_files
  pgbackrest               critical: `pgbackrest info` fails or the stanza status is not ok
  full_backup_age          critical: no good full backup within max_full_backup_age_hours
  backup_age               critical: no good backup of any type within max_backup_age_hours
  backup_errors            warning: the newest backup found page checksum errors
  wal_gap                  critical: segments missing from the archived WAL
  pitr_window              warning: the restorable window is shorter than min_pitr_window_hours
  slot_retention           warning: a slot keeps more than max_slot_retained_mb of WAL;
                           critical: a slot's WAL is unreserved or lost. Value: bytes
  replication_lag_bytes    warning: a standby replays (or this standby is) that far behind
  replication_lag_seconds  warning: the same in seconds (replay_lag, or the replay delay)
  restore_drill            critical: the last drill failed; warning: none within
                           max_drill_age_days. Value: days since the last drill
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from collectors.backups.facts import TargetFacts
from collectors.backups.settings import BackupSettings

Severity = Literal["ok", "warning", "critical", "unknown"]
SEVERITY_ORDER: dict[str, int] = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}
MIB = 1024 * 1024
NOT_CONFIGURED = ("pgBackRest is not configured for this target: set pgbackrest_stanza in "
                  "its [[targets]] table")


@dataclass(frozen=True)
class State:
    state: str
    severity: Severity
    message: str
    value: float | None = None
    threshold: float | None = None


def evaluate(facts: TargetFacts, settings: BackupSettings) -> list[State]:
    """Every state, in a fixed order."""
    checks: list[Callable[[TargetFacts, BackupSettings], State]] = [
        archiving, archive_backlog, pgbackrest_status, full_backup_age, backup_age,
        backup_errors, wal_gap, pitr_window, slot_retention, replication_lag_bytes,
        replication_lag_seconds, restore_drill]
    return [check(facts, settings) for check in checks]


def archiving(facts: TargetFacts, settings: BackupSettings) -> State:
    a = facts.archiving
    if a is None:
        return State("archiving", "unknown", "no recent wal_archiving sample")
    failing = a.last_failed_time is not None and (
        a.last_archived_time is None or a.last_failed_time > a.last_archived_time)
    if failing:
        return State("archiving", "critical",
                     f"archiving is failing: {a.last_failed_wal} failed at "
                     f"{a.last_failed_time:%Y-%m-%d %H:%M:%S} UTC and nothing was archived "
                     f"since ({a.failed_recently} failures in the last 15 min); check "
                     "archive_command and the server log", float(a.failed_recently), 0)
    if a.archive_mode == "off" and not a.in_recovery:
        return State("archiving", "warning", "archive_mode is off: no WAL is archived, so no "
                     "point-in-time recovery is possible", float(a.failed_recently), 0)
    if a.in_recovery and a.archive_mode != "always":
        return State("archiving", "ok", "standby: WAL is archived by the primary "
                     f"(archive_mode = {a.archive_mode})", float(a.failed_recently), 0)
    return State("archiving", "ok", f"archiving works; last archived {a.last_archived_wal or '—'}",
                 float(a.failed_recently), 0)


def archive_backlog(facts: TargetFacts, settings: BackupSettings) -> State:
    a = facts.archiving
    limit = float(settings.max_ready_wal_files)
    if a is None or a.ready_count is None:
        why = ("no recent wal_archiving sample" if a is None else
               "no recent wal_archive_backlog sample (it needs pg_monitor to list "
               "pg_wal/archive_status)")
        return State("archive_backlog", "unknown", why, None, limit)
    if a.ready_count > limit:
        return State("archive_backlog", "warning",
                     f"{a.ready_count} WAL files wait to be archived (more than "
                     f"{limit:.0f}): pg_wal grows until archiving catches up",
                     float(a.ready_count), limit)
    return State("archive_backlog", "ok", f"{a.ready_count} WAL files wait to be archived",
                 float(a.ready_count), limit)


def pgbackrest_status(facts: TargetFacts, settings: BackupSettings) -> State:
    if not facts.pgbackrest_configured:
        return State("pgbackrest", "unknown", NOT_CONFIGURED)
    if facts.pgbackrest_error:
        return State("pgbackrest", "critical", facts.pgbackrest_error)
    s = facts.stanza
    if s is None:
        return State("pgbackrest", "unknown", "no recent pgbackrest info")
    if s.status_code != 0:
        return State("pgbackrest", "critical",
                     f"stanza {s.stanza}: {s.status_message} (status {s.status_code})",
                     float(s.status_code), 0)
    return State("pgbackrest", "ok", f"stanza {s.stanza}: {s.status_message}", 0.0, 0)


def _backup_age(facts: TargetFacts, name: str, types: set[str] | None, limit_hours: float,
                what: str) -> State:
    if not facts.pgbackrest_configured:
        return State(name, "unknown", NOT_CONFIGURED, None, limit_hours)
    if facts.stanza is None:
        return State(name, "unknown", "no recent pgbackrest info", None, limit_hours)
    good = [b for b in facts.backups if not b.error
            and (types is None or b.backup_type in types)]
    if not good:
        return State(name, "critical", f"no good {what} in the repository", None, limit_hours)
    newest = max(good, key=lambda b: b.stop_time)
    hours = (facts.now - newest.stop_time).total_seconds() / 3600
    severity: Severity = "critical" if hours > limit_hours else "ok"
    verdict = f"older than {limit_hours:g} h" if severity == "critical" else "recent enough"
    return State(name, severity, f"last good {what} {newest.label} finished {hours:.1f} h ago "
                 f"({verdict})", hours, limit_hours)


def full_backup_age(facts: TargetFacts, settings: BackupSettings) -> State:
    return _backup_age(facts, "full_backup_age", {"full"}, settings.max_full_backup_age_hours,
                       "full backup")


def backup_age(facts: TargetFacts, settings: BackupSettings) -> State:
    return _backup_age(facts, "backup_age", None, settings.max_backup_age_hours, "backup")


def backup_errors(facts: TargetFacts, settings: BackupSettings) -> State:
    if not facts.pgbackrest_configured or facts.stanza is None:
        why = NOT_CONFIGURED if not facts.pgbackrest_configured else "no recent pgbackrest info"
        return State("backup_errors", "unknown", why)
    with_errors = [b for b in facts.backups if b.error]
    newest = max(facts.backups, key=lambda b: b.stop_time, default=None)
    if newest is not None and newest.error:
        return State("backup_errors", "warning",
                     f"backup {newest.label} found page checksum errors: check the server log "
                     "and run pg_checksums / amcheck", float(len(with_errors)), 0)
    return State("backup_errors", "ok", f"{len(with_errors)} backups with checksum errors",
                 float(len(with_errors)), 0)


def wal_gap(facts: TargetFacts, settings: BackupSettings) -> State:
    if not facts.pgbackrest_configured:
        return State("wal_gap", "unknown", NOT_CONFIGURED)
    s = facts.stanza
    if s is None or not s.wal_checked or s.wal_gap_count is None:
        return State("wal_gap", "unknown", "archived WAL not checked"
                     + (f": {s.notes}" if s is not None and s.notes else ""))
    if s.wal_gap_count > 0:
        return State("wal_gap", "critical",
                     f"{s.wal_gap_count} WAL segments missing from the archive ({s.wal_gaps}): "
                     "no point in time after a gap can be reached from a backup before it",
                     float(s.wal_gap_count), 0)
    return State("wal_gap", "ok", "archived WAL is continuous", 0.0, 0)


def pitr_window(facts: TargetFacts, settings: BackupSettings) -> State:
    minimum = settings.min_pitr_window_hours
    if not facts.pgbackrest_configured:
        return State("pitr_window", "unknown", NOT_CONFIGURED, None, minimum)
    s = facts.stanza
    if s is None or s.pitr_start is None or s.pitr_end is None:
        return State("pitr_window", "unknown", "no restorable backup known", None, minimum)
    hours = (s.pitr_end - s.pitr_start).total_seconds() / 3600
    text = (f"restorable from {s.pitr_start:%Y-%m-%d %H:%M} to {s.pitr_end:%Y-%m-%d %H:%M} "
            f"UTC ({hours:.1f} h)")
    if minimum > 0 and hours < minimum:
        return State("pitr_window", "warning", f"{text}: shorter than the {minimum:g} h "
                     "minimum; keep more backups or WAL (repo1-retention-full)", hours, minimum)
    return State("pitr_window", "ok", text, hours, minimum)


def slot_retention(facts: TargetFacts, settings: BackupSettings) -> State:
    limit = settings.max_slot_retained_mb * MIB
    if facts.slots is None:
        return State("slot_retention", "unknown", "no recent replication_slots sample",
                     None, limit)
    if not facts.slots:
        return State("slot_retention", "ok", "no replication slots", 0.0, limit)
    worst = max(facts.slots, key=lambda s: s.retained_wal_bytes or 0)
    retained = float(worst.retained_wal_bytes or 0)
    lost = [s for s in facts.slots if s.wal_status in ("unreserved", "lost")]
    activity = "active" if worst.active else "inactive"
    if lost:
        names = ", ".join(f"{s.slot_name} ({s.wal_status})" for s in lost)
        return State("slot_retention", "critical",
                     f"slot WAL beyond max_slot_wal_keep_size: {names}; its standby or "
                     "subscriber must be rebuilt once the WAL is lost", retained, limit)
    if retained > limit:
        return State("slot_retention", "warning",
                     f"{activity} slot {worst.slot_name} keeps {retained / MIB:,.0f} MB of WAL "
                     f"(more than {settings.max_slot_retained_mb:g} MB): pg_wal fills until "
                     "its consumer catches up or the slot is dropped", retained, limit)
    return State("slot_retention", "ok", f"largest: {activity} slot {worst.slot_name} keeps "
                 f"{retained / MIB:,.0f} MB of WAL", retained, limit)


def replication_lag_bytes(facts: TargetFacts, settings: BackupSettings) -> State:
    limit = settings.max_replication_lag_mb * MIB
    name = "replication_lag_bytes"
    if facts.recovery is not None and facts.recovery.in_recovery:
        lag = facts.recovery.receive_replay_lag_bytes
        if lag is None:
            return State(name, "unknown", "standby: no receive position yet", None, limit)
        return _over(name, float(lag), limit, f"this standby has {lag / MIB:,.1f} MB received "
                     "but not replayed")
    if facts.standbys is None:
        return State(name, "unknown", "no recent replication_standbys sample", None, limit)
    lags = [(s.replay_lag_bytes, s) for s in facts.standbys if s.replay_lag_bytes is not None]
    if not lags:
        return State(name, "ok", "no standby streams from this target", 0.0, limit)
    lag, standby = max(lags, key=lambda item: item[0] or 0)
    return _over(name, float(lag or 0), limit, f"standby {standby.application_name or '—'} "
                 f"({standby.client_addr}) replays {float(lag or 0) / MIB:,.1f} MB behind")


def replication_lag_seconds(facts: TargetFacts, settings: BackupSettings) -> State:
    limit = settings.max_replication_lag_seconds
    name = "replication_lag_seconds"
    if facts.recovery is not None and facts.recovery.in_recovery:
        delay = facts.recovery.replay_delay_seconds
        paused = " (replay is paused)" if facts.recovery.replay_paused else ""
        if delay is None:
            return State(name, "unknown", "standby: nothing replayed yet" + paused, None, limit)
        return _over(name, delay, limit, f"this standby's replay is {delay:,.1f} s behind"
                     + paused)
    if facts.standbys is None:
        return State(name, "unknown", "no recent replication_standbys sample", None, limit)
    lags = [(s.replay_lag_seconds, s) for s in facts.standbys
            if s.replay_lag_seconds is not None]
    if not lags:
        return State(name, "ok", "no replay lag reported", 0.0, limit)
    lag, standby = max(lags, key=lambda item: item[0] or 0.0)
    return _over(name, float(lag or 0.0), limit, f"standby {standby.application_name or '—'} "
                 f"replays {float(lag or 0.0):,.1f} s behind")


def _over(name: str, value: float, limit: float, text: str) -> State:
    if value > limit:
        return State(name, "warning", f"{text} (above the threshold)", value, limit)
    return State(name, "ok", text, value, limit)


def restore_drill(facts: TargetFacts, settings: BackupSettings) -> State:
    limit = settings.max_drill_age_days
    if not facts.pgbackrest_configured:
        return State("restore_drill", "unknown", NOT_CONFIGURED, None, limit)
    drill = facts.last_drill
    if drill is None:
        return State("restore_drill", "warning", "no restore drill yet: run kasho-ops "
                     f"restore-drill --target {facts.target}", None, limit)
    days = (facts.now - drill.started_at).total_seconds() / 86400
    when = f"{drill.started_at:%Y-%m-%d %H:%M} UTC"
    if drill.outcome != "passed":
        return State("restore_drill", "critical",
                     f"the last restore drill ({when}) failed: {drill.error or 'see its checks'}",
                     days, limit)
    if days > limit:
        return State("restore_drill", "warning", f"the last restore drill passed {days:.1f} days "
                     f"ago ({when}), more than {limit:g}", days, limit)
    return State("restore_drill", "ok", f"the last restore drill passed ({when})", days, limit)
