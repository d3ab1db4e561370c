"""The latest facts about one target's backups, archiving, replication and drills, read from
the metrics store for the state evaluation (states.py). Only recent facts count: a sample
older than FACT_MAX_AGE (or three pgBackRest intervals) is no fact, and its state reads
`unknown` rather than a stale `ok`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from collectors.backups.collect import PGBACKREST_GROUP

FACT_MAX_AGE = timedelta(minutes=15)
RECENT_FAILURES = timedelta(minutes=15)


@dataclass(frozen=True)
class ArchivingFacts:
    collected_at: datetime
    in_recovery: bool
    archive_mode: str
    last_archived_wal: str | None
    last_archived_time: datetime | None
    last_failed_wal: str | None
    last_failed_time: datetime | None
    ready_count: int | None  # wal_archive_backlog's; None without pg_monitor
    archive_lag_bytes: int | None
    failed_recently: int  # failed attempts over RECENT_FAILURES (wal_archive_counts)


@dataclass(frozen=True)
class StanzaFacts:
    collected_at: datetime
    stanza: str
    status_code: int
    status_message: str
    wal_checked: bool
    wal_gap_count: int | None
    wal_gaps: str | None
    pitr_start: datetime | None
    pitr_end: datetime | None
    notes: str | None


@dataclass(frozen=True)
class BackupFacts:
    label: str
    backup_type: str
    stop_time: datetime
    error: bool


@dataclass(frozen=True)
class RecoveryFacts:
    in_recovery: bool
    replay_delay_seconds: float | None
    receive_replay_lag_bytes: int | None
    replay_paused: bool | None
    upstream_host: str | None


@dataclass(frozen=True)
class StandbyFacts:
    application_name: str
    client_addr: str
    state: str
    replay_lag_bytes: int | None
    replay_lag_seconds: float | None


@dataclass(frozen=True)
class SlotFacts:
    slot_name: str
    active: bool
    wal_status: str
    retained_wal_bytes: int | None
    safe_wal_size_bytes: int | None


@dataclass(frozen=True)
class DrillFacts:
    started_at: datetime
    outcome: str
    error: str | None


@dataclass(frozen=True)
class TargetFacts:
    now: datetime
    target: str
    pgbackrest_configured: bool
    pgbackrest_error: str | None = None  # the latest pgbackrest run failed with this
    stanza: StanzaFacts | None = None
    backups: tuple[BackupFacts, ...] = ()
    archiving: ArchivingFacts | None = None
    recovery: RecoveryFacts | None = None
    standbys: tuple[StandbyFacts, ...] | None = None  # None: not collected recently
    slots: tuple[SlotFacts, ...] | None = None
    last_drill: DrillFacts | None = None


def read_target_facts(conn: psycopg.Connection[Any], target: str, pgbackrest_configured: bool,
                      pgbackrest_interval_seconds: int) -> TargetFacts:
    """Everything states.evaluate needs, from the store, as of the store's clock."""
    cursor = conn.cursor(row_factory=dict_row)
    now: datetime = cursor.execute("SELECT now() AS now").fetchone()["now"]  # type: ignore[index]
    since = now - FACT_MAX_AGE
    archiving_row = cursor.execute(
        "SELECT *, (SELECT coalesce(sum(failed_count), 0) FROM kasho_ops.wal_archive_counts f "
        "           WHERE f.target = %(t)s AND f.collected_at > %(recent)s) AS failed_recently, "
        "       (SELECT ready_count FROM kasho_ops.wal_archive_backlog b "
        "        WHERE b.target = %(t)s AND b.collected_at > %(since)s "
        "        ORDER BY b.collected_at DESC LIMIT 1) AS ready_count "
        "FROM kasho_ops.wal_archiving WHERE target = %(t)s AND collected_at > %(since)s "
        "ORDER BY collected_at DESC LIMIT 1",
        {"t": target, "since": since, "recent": now - RECENT_FAILURES}).fetchone()
    recovery_rows = _latest_sample(cursor, "recovery_status", target, since)
    standby_rows = _latest_sample(cursor, "replication_standbys", target, since)
    slot_rows = _latest_sample(cursor, "replication_slots", target, since)
    drill = cursor.execute(
        "SELECT started_at, outcome, error FROM kasho_ops.restore_drills WHERE target = %s "
        "ORDER BY started_at DESC LIMIT 1", [target]).fetchone()
    facts = TargetFacts(
        now=now, target=target, pgbackrest_configured=pgbackrest_configured,
        archiving=None if archiving_row is None else ArchivingFacts(
            **{k: archiving_row[k] for k in ArchivingFacts.__dataclass_fields__}),
        recovery=None if not recovery_rows else RecoveryFacts(
            **{k: recovery_rows[0][k] for k in RecoveryFacts.__dataclass_fields__}),
        standbys=None if standby_rows is None else tuple(
            StandbyFacts(**{k: r[k] for k in StandbyFacts.__dataclass_fields__})
            for r in standby_rows),
        slots=None if slot_rows is None else tuple(
            SlotFacts(**{k: r[k] for k in SlotFacts.__dataclass_fields__}) for r in slot_rows),
        last_drill=None if drill is None else DrillFacts(**drill),
    )
    if not pgbackrest_configured:
        return facts
    pgbackrest_since = now - timedelta(seconds=3 * pgbackrest_interval_seconds)
    last_run = cursor.execute(
        "SELECT started_at, error FROM kasho_ops.collector_runs WHERE target = %s "
        "AND metric_group = %s ORDER BY started_at DESC LIMIT 1",
        [target, PGBACKREST_GROUP]).fetchone()
    stanza = cursor.execute(
        "SELECT * FROM kasho_ops.pgbackrest_stanzas WHERE target = %s AND collected_at > %s "
        "ORDER BY collected_at DESC LIMIT 1", [target, pgbackrest_since]).fetchone()
    backups: list[dict[str, Any]] = []
    if stanza is not None:
        backups = cursor.execute(
            "SELECT label, backup_type, stop_time, error FROM kasho_ops.pgbackrest_backups "
            "WHERE target = %s AND collected_at = %s ORDER BY stop_time",
            [target, stanza["collected_at"]]).fetchall()
    return replace(
        facts, pgbackrest_error=last_run["error"] if last_run is not None else None,
        stanza=None if stanza is None else StanzaFacts(
            **{k: stanza[k] for k in StanzaFacts.__dataclass_fields__}),
        backups=tuple(BackupFacts(**b) for b in backups))


def _latest_sample(cursor: psycopg.Cursor[dict[str, Any]], table: str, target: str,
                   since: datetime) -> list[dict[str, Any]] | None:
    """The rows of the group's latest successful run since `since` (an empty list when that
    run found nothing); None when the group did not run successfully since then."""
    run = cursor.execute(
        "SELECT max(started_at) AS at FROM kasho_ops.collector_runs WHERE target = %s "
        "AND metric_group = %s AND error IS NULL AND started_at > %s",
        [target, table, since]).fetchone()
    if run is None or run["at"] is None:
        return None
    return cursor.execute(sql.SQL("SELECT * FROM kasho_ops.{} WHERE target = %s "
                                  "AND collected_at = %s").format(sql.Identifier(table)),
                          [target, run["at"]]).fetchall()
