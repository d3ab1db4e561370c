"""Read a target's pgBackRest stanza and store it: one `pgbackrest_stanzas` row (status,
retention, archived WAL checked for gaps, the PITR window) and one `pgbackrest_backups` row
per backup, with the run recorded in `collector_runs` as group `pgbackrest`.

Three read-only pgBackRest commands per collection: `info` (required), `help expire` (the
retention in force) and `repo-ls` of the archive (WAL continuity). When one of the last two
fails, the row says so in `notes` and the rest is still stored.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from collectors.backups.info import (
    DEFAULT_SEGMENT_BYTES,
    PitrWindow,
    Retention,
    StanzaInfo,
    WalCheck,
    check_wal,
    first_wal_retained,
    parse_info,
    parse_retention,
    parse_wal_listing,
    pitr_window,
)
from collectors.backups.pgbackrest import (
    PgBackRestError,
    info_args,
    retention_args,
    run_pgbackrest,
    wal_listing_args,
)
from collectors.backups.settings import PgBackRestSource
from collectors.core.config import Target
from collectors.core.connections import describe_error
from collectors.core.store import Batch, MetricStore, RunRecord

PGBACKREST_GROUP = "pgbackrest"
log = logging.getLogger(__name__)

STANZA_COLUMNS = (
    "collected_at", "target", "stanza", "status_code", "status_message", "backup_in_progress",
    "cipher", "repo_status_code", "repo_status_message", "db_version", "system_id",
    "archive_id", "archive_min", "archive_max", "archive_max_time", "wal_checked",
    "wal_segments", "wal_gap_count", "wal_gaps", "pitr_start", "pitr_end", "retention_full",
    "retention_full_type", "retention_diff", "retention_archive", "retention_archive_type",
    "backup_count", "pgbackrest_version", "notes")
BACKUP_COLUMNS = (
    "collected_at", "target", "stanza", "label", "backup_type", "prior_label", "start_time",
    "stop_time", "duration_seconds", "database_size_bytes", "backup_size_bytes",
    "repo_size_bytes", "repo_delta_bytes", "wal_start", "wal_stop", "lsn_start", "lsn_stop",
    "error", "references_count")


@dataclass(frozen=True)
class ServerWalFacts:
    """What the store knows from the target's own wal_archiving samples."""

    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    last_archived_time: datetime | None = None


@dataclass(frozen=True)
class PgBackRestReading:
    info: StanzaInfo
    retention: Retention | None
    wal: WalCheck | None
    window: PitrWindow | None
    notes: tuple[str, ...] = ()


def read_pgbackrest(source: PgBackRestSource, server: ServerWalFacts) -> PgBackRestReading:
    """Run the three commands; PgBackRestError only when `info` itself fails."""
    info = parse_info(run_pgbackrest(source.command, info_args(source.stanza)), source.stanza)
    notes: list[str] = []
    retention: Retention | None = None
    try:
        retention = parse_retention(run_pgbackrest(source.command,
                                                   retention_args(source.stanza)))
    except PgBackRestError as exc:
        notes.append(f"retention unknown: {exc}")
    wal: WalCheck | None = None
    if info.archive_id and info.backups:
        try:
            listing = parse_wal_listing(run_pgbackrest(
                source.command, wal_listing_args(source.stanza, info.archive_id)))
            wal = check_wal(listing, first_wal_retained(info.backups, retention),
                            server.segment_bytes)
        except PgBackRestError as exc:
            notes.append(f"archived WAL not checked for gaps: {exc}")
    window = pitr_window(info.backups, wal, server.last_archived_time, server.segment_bytes)
    return PgBackRestReading(info, retention, wal, window, tuple(notes))


def reading_batches(target: str, collected_at: datetime,
                    reading: PgBackRestReading) -> list[Batch]:
    info, retention, wal, window = reading.info, reading.retention, reading.wal, reading.window
    stanza_row = (
        collected_at, target, info.name, info.status_code, info.status_message,
        info.backup_in_progress, info.cipher, info.repo_status_code, info.repo_status_message,
        info.db_version, info.system_id, info.archive_id, info.archive_min, info.archive_max,
        wal.newest_time if wal else None, wal is not None,
        wal.segments if wal else None, wal.missing if wal else None,
        wal.gaps_text if wal and wal.gaps else None,
        window.start if window else None, window.end if window else None,
        retention.full if retention else None, retention.full_type if retention else None,
        retention.diff if retention else None, retention.archive if retention else None,
        retention.archive_type if retention else None,
        len(info.backups), info.pgbackrest_version, "; ".join(reading.notes) or None)
    backup_rows = tuple(
        (collected_at, target, info.name, b.label, b.backup_type, b.prior_label, b.start,
         b.stop, b.duration_seconds, b.database_size_bytes, b.backup_size_bytes,
         b.repo_size_bytes, b.repo_delta_bytes, b.wal_start, b.wal_stop, b.lsn_start,
         b.lsn_stop, b.error, b.references_count)
        for b in info.backups)
    day = collected_at.date()
    return [Batch("pgbackrest_stanzas", STANZA_COLUMNS, (stanza_row,), day),
            Batch("pgbackrest_backups", BACKUP_COLUMNS, backup_rows, day)]


def server_wal_facts(store: MetricStore, target: str) -> ServerWalFacts:
    """The target's WAL segment size and last archived time from its latest wal_archiving
    sample (defaults when there is none yet, or the store cannot be read)."""
    try:
        with store.connection() as conn:
            row: Any = conn.execute(
                "SELECT wal_segment_size_bytes, last_archived_time FROM kasho_ops.wal_archiving "
                "WHERE target = %s ORDER BY collected_at DESC LIMIT 1", [target]).fetchone()
    except psycopg.Error as exc:
        log.warning("cannot read %s's WAL facts from the store: %s", target,
                    describe_error(exc))
        return ServerWalFacts()
    if row is None:
        return ServerWalFacts()
    return ServerWalFacts(int(row[0]), row[1])


def collect_pgbackrest(store: MetricStore, target: Target) -> RunRecord:
    """One collection of the target's stanza into the store; never raises for pgBackRest."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    source = target.pgbackrest
    batches: list[Batch] = []
    error: str | None = None
    rows = 0
    if source is None:
        error = f"{target.name}: no pgbackrest_stanza configured"
    else:
        try:
            reading = read_pgbackrest(source, server_wal_facts(store, target.name))
            batches = reading_batches(target.name, started_at, reading)
            rows = sum(len(b.rows) for b in batches)
        except PgBackRestError as exc:
            error = f"{PGBACKREST_GROUP} on {target.name}: {exc}"
    record = RunRecord(started_at=started_at, target=target.name,
                       metric_group=PGBACKREST_GROUP,
                       duration_ms=(time.perf_counter() - clock) * 1000, rows_written=rows,
                       error=error)
    if error:
        log.warning("%s", error)
    store.write(batches, record)
    return record
