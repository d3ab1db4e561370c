"""Backups page tables and summaries (pure): the backup list, the newest backup of each type,
retention configured beside what is kept, the store's own retention, archiving settings and
the restore drills."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from dashboard.core.units import format_age, format_bytes, format_seconds

TYPE_LABELS = {"full": "full", "diff": "differential", "incr": "incremental"}


def _utc(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return str(pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"))


def _text(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else str(value)


def _bytes(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else format_bytes(float(value))


def backups_table(backups: pd.DataFrame) -> pd.DataFrame:
    """Every backup in the repository, newest first, every cell formatted."""
    columns = ["label", "type", "started (UTC)", "finished (UTC)", "duration", "database size",
               "backed up", "repository size", "repository delta", "WAL range", "errors"]
    if backups.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for b in backups.sort_values("stop_time", ascending=False).itertuples(index=False):
        rows.append([b.label, TYPE_LABELS.get(str(b.backup_type), str(b.backup_type)),
                     _utc(b.start_time), _utc(b.stop_time), format_seconds(b.duration_seconds),
                     _bytes(b.database_size_bytes), _bytes(b.backup_size_bytes),
                     _bytes(b.repo_size_bytes), _bytes(b.repo_delta_bytes),
                     f"{b.wal_start or '—'} → {b.wal_stop or '—'}",
                     "checksum errors" if b.error else ""])
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class LastBackup:
    backup_type: str
    label: str
    stop: datetime
    age_seconds: float


def last_good_by_type(backups: pd.DataFrame, now: datetime) -> dict[str, LastBackup]:
    """The newest backup without errors of each type, and of any type ('any')."""
    found: dict[str, LastBackup] = {}
    if backups.empty:
        return found
    good = backups[~backups["error"].astype(bool)].sort_values("stop_time")
    for b in good.itertuples(index=False):
        stop = pd.Timestamp(b.stop_time).to_pydatetime()
        last = LastBackup(str(b.backup_type), str(b.label), stop, (now - stop).total_seconds())
        found[str(b.backup_type)] = last
        found["any"] = last
    return found


def backup_tile_caption(backup: LastBackup) -> str:
    """'full · 20261201-013000F', 'incr · 20261202-153000I': pgBackRest's type and a
    differential's or an incremental's label without its full backup's part
    ('20261201-013000F_20261202-153000I', shown whole in the backup list), so the caption
    fits its tile."""
    return f"{backup.backup_type} · {backup.label.rsplit('_', 1)[-1]}"


def last_backups_line(last: dict[str, LastBackup]) -> str:
    """'Last good backup: full 22 h ago · differential 1 d ago · incremental 32 min ago'."""
    parts = [f"{TYPE_LABELS[kind]} {format_age(last[kind].age_seconds)}" if kind in last
             else f"{TYPE_LABELS[kind]} none" for kind in TYPE_LABELS]
    return "Last good backup: " + " · ".join(parts)


def wal_continuity_line(stanza: pd.Series) -> str:
    """What the check of the repository's archived WAL found."""
    span = f"{stanza.get('archive_min') or '—'} → {stanza.get('archive_max') or '—'}"
    if not bool(stanza.get("wal_checked")):
        return f"Archived WAL {span}: not checked for gaps"
    gaps = stanza.get("wal_gap_count")
    found = ("no gap" if not gaps else
             f"{int(gaps)} segments missing: {stanza.get('wal_gaps')}")
    return (f"Archived WAL {span}: {int(stanza.get('wal_segments') or 0):,} segments from the "
            f"oldest backup's start checked, {found}")


def retention_table(stanza: pd.Series, backups: pd.DataFrame,
                    min_pitr_window_hours: float) -> pd.DataFrame:
    """pgBackRest's retention options beside what the repository holds under them."""
    counts = backups["backup_type"].value_counts() if not backups.empty else pd.Series(dtype=int)

    def option(value: Any, unit: str = "") -> str:
        if value is None or pd.isna(value):
            return "not set"
        return f"{int(value)}{unit}"

    full_type = stanza.get("retention_full_type") or "count"
    full_unit = " days" if full_type == "time" else " backups"
    archive_type = stanza.get("retention_archive_type") or "full"
    oldest = backups["stop_time"].min() if not backups.empty else None
    window_hours = _window_hours(stanza)
    rows = [
        ["repo1-retention-full", f"{option(stanza.get('retention_full'), full_unit)} "
         f"({full_type})", f"{int(counts.get('full', 0))} full backups"],
        ["repo1-retention-diff", option(stanza.get("retention_diff"), " backups"),
         f"{int(counts.get('diff', 0))} differential, {int(counts.get('incr', 0))} incremental"],
        ["repo1-retention-archive",
         f"{option(stanza.get('retention_archive'), ' backups')} ({archive_type})"
         if not pd.isna(stanza.get("retention_archive")) else "not set: WAL kept for every "
         "backup kept", f"WAL {stanza.get('archive_min') or '—'} → "
         f"{stanza.get('archive_max') or '—'}"],
        ["oldest backup", "", _utc(oldest)],
        ["oldest restorable point", "", _utc(stanza.get("pitr_start"))],
        ["minimum PITR window ([backups] min_pitr_window_hours)",
         f"{min_pitr_window_hours:g} h",
         "—" if window_hours is None else f"{window_hours:.1f} h now"],
    ]
    return pd.DataFrame(rows, columns=["setting", "configured", "kept now"])


def _window_hours(stanza: pd.Series) -> float | None:
    start, end = stanza.get("pitr_start"), stanza.get("pitr_end")
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return None
    return float((pd.Timestamp(end) - pd.Timestamp(start)).total_seconds()) / 3600


def pitr_short(stanza: pd.Series, min_hours: float) -> bool:
    hours = _window_hours(stanza)
    return hours is not None and min_hours > 0 and hours < min_hours


def store_retention_table(retention_days: int, oldest_day: date | None) -> pd.DataFrame:
    """What Kasho Ops' own store keeps, and for how long."""
    reach = f"since {oldest_day:%Y-%m-%d}" if oldest_day else "no history yet"
    return pd.DataFrame([
        ["metric history (every group, pgBackRest snapshots, recovery states, collector runs)",
         f"{retention_days} days ([store] retention_days; whole days dropped hourly)", reach],
        ["restore drills (kasho_ops.restore_drills)", "forever (append-only, not partitioned)",
         ""],
        ["DBA actions audit (kasho_ops.dba_actions)", "forever (append-only, not partitioned)",
         ""],
    ], columns=["what", "kept for", "held now"])


def archiving_settings(latest: pd.Series) -> pd.DataFrame:
    """The server's archiving settings and archiver position at the latest sample."""
    timeout = latest.get("archive_timeout_seconds")
    rows = [
        ["archive_mode", str(latest.get("archive_mode"))],
        ["archive_command", str(latest.get("archive_command") or "(empty)")],
        ["archive_timeout", "0 (off)" if not timeout else format_seconds(float(timeout))],
        ["last archived", f"{latest.get('last_archived_wal') or '—'} at "
                          f"{_utc(latest.get('last_archived_time'))}"],
        ["last failed", f"{latest.get('last_failed_wal') or '—'} at "
                        f"{_utc(latest.get('last_failed_time'))}"],
        ["current WAL", f"{latest.get('current_wal_file') or '—'} "
                        f"({latest.get('current_wal_lsn') or '—'})"],
        ["WAL segment size", _bytes(latest.get("wal_segment_size_bytes"))],
    ]
    return pd.DataFrame(rows, columns=["setting", "value"])


def drills_table(drills: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The latest drills for people: when, to when, from which backup, how long, outcome."""
    columns = ["started (UTC)", "age", "trigger", "recover to", "backup", "recovered to (UTC)",
               "duration", "rows (users / accounts / transactions)", "outcome", "failed check"]
    if drills.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for d in drills.itertuples(index=False):
        started = pd.Timestamp(d.started_at).to_pydatetime()
        counts = _json(d.row_counts)
        rows.append([
            _utc(d.started_at), format_age((now - started).total_seconds()),
            drill_trigger(d.trigger, d.actor, d.actor_role),
            "end of archive" if pd.isna(d.requested_time) else _utc(d.requested_time),
            _text(d.backup_label), _utc(d.recovered_to), format_seconds(d.duration_seconds),
            " / ".join(f"{int(counts[t]):,}" if t in counts else "—"
                       for t in ("users", "accounts", "transactions")),
            str(d.outcome), failed_check(d.checks, d.error)])
    return pd.DataFrame(rows, columns=columns)


def drill_trigger(trigger: Any, actor: Any, role: Any) -> str:
    """How a drill started: 'command', 'schedule', or 'dashboard · who (role)'."""
    if actor is None or pd.isna(actor):
        return str(trigger)
    return f"{trigger} · {actor}" + ("" if role is None or pd.isna(role) else f" ({role})")


def parse_drill_time(text: str) -> datetime | None:
    """The optional recover-to time typed on the page: empty is None (the end of the
    archive); ISO 8601, UTC unless it carries an offset. ValueError says how to write it."""
    if not text.strip():
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a time: write it as ISO 8601, e.g. "
                         "2026-01-31 14:05:00 (UTC) or 2026-01-31T15:05:00+01:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def failed_check(checks: Any, error: Any) -> str:
    """The first failed check's name and detail, else the drill's error, else ''."""
    for check in _json(checks) or []:
        if not check.get("passed"):
            return f"{check.get('name')}: {check.get('detail')}"
    return "" if error is None or pd.isna(error) else str(error)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value if value is not None else {}
