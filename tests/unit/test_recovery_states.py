"""Recovery states from crafted facts: each state's severity, value and reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from collectors.backups.facts import (
    ArchivingFacts,
    BackupFacts,
    DrillFacts,
    RecoveryFacts,
    SlotFacts,
    StandbyFacts,
    StanzaFacts,
    TargetFacts,
)
from collectors.backups.settings import BackupSettings
from collectors.backups.states import evaluate

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = BackupSettings()
MIB = 1024 * 1024


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


ARCHIVING = ArchivingFacts(
    collected_at=ago(seconds=30), in_recovery=False, archive_mode="on",
    last_archived_wal="000000010000000000000010", last_archived_time=ago(minutes=1),
    last_failed_wal=None, last_failed_time=None, ready_count=0, archive_lag_bytes=1024,
    failed_recently=0)
STANZA = StanzaFacts(
    collected_at=ago(minutes=1), stanza="main", status_code=0, status_message="ok",
    wal_checked=True, wal_gap_count=0, wal_gaps=None, pitr_start=ago(days=6),
    pitr_end=ago(minutes=2), notes=None)
BACKUPS = (BackupFacts("F", "full", ago(days=6), False), BackupFacts("D", "diff", ago(hours=20),
                                                                     False))
HEALTHY = TargetFacts(
    now=NOW, target="kasho", pgbackrest_configured=True, stanza=STANZA, backups=BACKUPS,
    archiving=ARCHIVING, recovery=RecoveryFacts(False, None, None, None, None), standbys=(),
    slots=(), last_drill=DrillFacts(ago(days=2), "passed", None))


def states(facts: TargetFacts, settings: BackupSettings = SETTINGS) -> dict[str, tuple[str, str]]:
    return {s.state: (s.severity, s.message) for s in evaluate(facts, settings)}


def test_a_healthy_primary_is_ok_everywhere() -> None:
    result = evaluate(HEALTHY, SETTINGS)
    assert [s.state for s in result] == [
        "archiving", "archive_backlog", "pgbackrest", "full_backup_age", "backup_age",
        "backup_errors", "wal_gap", "pitr_window", "slot_retention", "replication_lag_bytes",
        "replication_lag_seconds", "restore_drill"]
    assert {s.state: s.severity for s in result if s.severity != "ok"} == {}
    by_name = {s.state: s for s in result}
    assert by_name["backup_age"].value == 20.0 and by_name["backup_age"].threshold == 26.0
    assert by_name["pitr_window"].value is not None and by_name["pitr_window"].value > 140


def test_failing_archiver_is_critical_until_something_is_archived_again() -> None:
    failing = replace(ARCHIVING, last_failed_wal="000000010000000000000011",
                      last_failed_time=ago(seconds=10), failed_recently=4, ready_count=3)
    severity, message = states(replace(HEALTHY, archiving=failing))["archiving"]
    assert severity == "critical"
    assert "000000010000000000000011 failed at 2025-03-01 11:59:50 UTC" in message
    assert "4 failures in the last 15 min" in message
    recovered = replace(failing, last_archived_time=ago(seconds=5))
    assert states(replace(HEALTHY, archiving=recovered))["archiving"][0] == "ok"


def test_archive_mode_off_and_standbys() -> None:
    off = replace(ARCHIVING, archive_mode="off")
    assert states(replace(HEALTHY, archiving=off))["archiving"][0] == "warning"
    standby = replace(ARCHIVING, in_recovery=True, archive_mode="on")
    severity, message = states(replace(HEALTHY, archiving=standby))["archiving"]
    assert severity == "ok" and message.startswith("standby: WAL is archived by the primary")
    assert states(replace(HEALTHY, archiving=None))["archiving"][0] == "unknown"


def test_backlog_over_the_limit_and_a_role_that_cannot_see_it() -> None:
    backlog = replace(ARCHIVING, ready_count=21)
    assert states(replace(HEALTHY, archiving=backlog))["archive_backlog"][0] == "warning"
    assert states(replace(HEALTHY, archiving=replace(ARCHIVING, ready_count=20)))[
        "archive_backlog"][0] == "ok"
    hidden = states(replace(HEALTHY, archiving=replace(ARCHIVING, ready_count=None)))
    assert hidden["archive_backlog"] == (
        "unknown", "no recent wal_archive_backlog sample (it needs pg_monitor to list "
                   "pg_wal/archive_status)")


def test_backup_ages() -> None:
    old_full = (BackupFacts("F", "full", ago(days=9), False),
                BackupFacts("I", "incr", ago(hours=1), False))
    result = states(replace(HEALTHY, backups=old_full))
    assert result["full_backup_age"][0] == "critical" and result["backup_age"][0] == "ok"
    assert "older than 192 h" in result["full_backup_age"][1]
    stale = (BackupFacts("F", "full", ago(hours=30), False),)
    assert states(replace(HEALTHY, backups=stale))["backup_age"][0] == "critical"
    only_errors = (BackupFacts("F", "full", ago(hours=1), True),)
    result = states(replace(HEALTHY, backups=only_errors))
    assert result["full_backup_age"] == ("critical", "no good full backup in the repository")
    assert result["backup_errors"][0] == "warning"


def test_pgbackrest_unconfigured_failing_or_not_ok() -> None:
    unconfigured = states(replace(HEALTHY, pgbackrest_configured=False, stanza=None,
                                  backups=()))
    for name in ("pgbackrest", "full_backup_age", "backup_age", "backup_errors", "wal_gap",
                 "pitr_window", "restore_drill"):
        assert unconfigured[name][0] == "unknown"
        assert "pgbackrest_stanza" in unconfigured[name][1]
    error = "pgbackrest on kasho: `pgbackrest` not found: install pgBackRest"
    assert states(replace(HEALTHY, pgbackrest_error=error))["pgbackrest"] == ("critical", error)
    missing = replace(STANZA, status_code=1, status_message="missing stanza path")
    assert states(replace(HEALTHY, stanza=missing))["pgbackrest"] == (
        "critical", "stanza main: missing stanza path (status 1)")


def test_gaps_and_a_short_window() -> None:
    gap = replace(STANZA, wal_gap_count=2, wal_gaps="0000000100000000000000A1…"
                                                    "0000000100000000000000A2")
    severity, message = states(replace(HEALTHY, stanza=gap))["wal_gap"]
    assert severity == "critical" and message.startswith("2 WAL segments missing")
    unchecked = replace(STANZA, wal_checked=False, wal_gap_count=None,
                        notes="archived WAL not checked for gaps: repo-ls failed")
    assert states(replace(HEALTHY, stanza=unchecked))["wal_gap"] == (
        "unknown", "archived WAL not checked: archived WAL not checked for gaps: repo-ls failed")
    short = replace(STANZA, pitr_start=ago(hours=3))
    assert states(replace(HEALTHY, stanza=short))["pitr_window"][0] == "warning"
    no_minimum = replace(SETTINGS, min_pitr_window_hours=0)
    assert states(replace(HEALTHY, stanza=short), no_minimum)["pitr_window"][0] == "ok"


def test_an_inactive_slot_retaining_wal_and_a_lost_one() -> None:
    slots = (SlotFacts("standby1", True, "reserved", 10 * MIB, None),
             SlotFacts("forgotten", False, "extended", 6000 * MIB, None))
    severity, message = states(replace(HEALTHY, slots=slots))["slot_retention"]
    assert severity == "warning"
    assert message.startswith("inactive slot forgotten keeps 6,000 MB of WAL")
    lost = (*slots, SlotFacts("gone", False, "lost", None, None))
    severity, message = states(replace(HEALTHY, slots=lost))["slot_retention"]
    assert severity == "critical" and "gone (lost)" in message
    assert states(replace(HEALTHY, slots=None))["slot_retention"][0] == "unknown"


def test_replication_lag_on_a_primary_and_on_a_standby() -> None:
    standbys = (StandbyFacts("replica1", "127.0.0.5", "streaming", 300 * MIB, 12.0),
                StandbyFacts("replica2", "127.0.0.6", "streaming", 1 * MIB, 400.0))
    result = states(replace(HEALTHY, standbys=standbys))
    assert result["replication_lag_bytes"][0] == "warning"
    assert "replica1 (127.0.0.5) replays 300.0 MB behind" in result["replication_lag_bytes"][1]
    assert result["replication_lag_seconds"][0] == "warning"
    assert "replica2 replays 400.0 s behind" in result["replication_lag_seconds"][1]
    paused = RecoveryFacts(True, 30.0, 2 * MIB, True, "127.0.0.1")
    result = states(replace(HEALTHY, recovery=paused, standbys=()))
    assert result["replication_lag_bytes"][0] == "ok"
    assert result["replication_lag_seconds"] == (
        "ok", "this standby's replay is 30.0 s behind (replay is paused)")
    far = replace(paused, replay_delay_seconds=900.0)
    assert states(replace(HEALTHY, recovery=far))["replication_lag_seconds"][0] == "warning"


def test_restore_drills() -> None:
    failed = DrillFacts(ago(hours=1), "failed", "no good backup in the repository")
    assert states(replace(HEALTHY, last_drill=failed))["restore_drill"] == (
        "critical", "the last restore drill (2025-03-01 11:00 UTC) failed: no good backup in "
                    "the repository")
    old = DrillFacts(ago(days=9), "passed", None)
    assert states(replace(HEALTHY, last_drill=old))["restore_drill"][0] == "warning"
    assert states(replace(HEALTHY, last_drill=None))["restore_drill"][0] == "warning"
