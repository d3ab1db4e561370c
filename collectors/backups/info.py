"""What pgBackRest's output means (pure): `info --output=json`, the retention options from
`help expire`, the repository's WAL listing, gaps in the archived WAL and the
point-in-time recovery window.

pgBackRest documents its JSON info as stable; its text output is not, so only `help`
(whose `[current=…, default=…]` notes are all there is) is read as text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collectors.backups.pgbackrest import PgBackRestError

DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
_SEGMENT = re.compile(r"^[0-9A-F]{24}$")
# repo-ls keys under archive/<stanza>/<archive-id>: "<16 hex>/<24 hex>-<sha1>[.<compression>]"
_ARCHIVED_SEGMENT = re.compile(r"(?:^|/)([0-9A-F]{24})-[0-9a-f]{40}(?:\.[a-z0-9]+)?$")
# An option line of `pgbackrest help`: two spaces, two dashes, the name, its summary.
_HELP_OPTION = re.compile(r"^\s{2}-{2}([a-z0-9-]+)\s*(.*)$")
_HELP_NOTES = re.compile(r"\[([^\[\]]*)\]\s*$")
MAX_GAPS_SHOWN = 3


@dataclass(frozen=True)
class Backup:
    label: str
    backup_type: str  # full, diff, incr
    prior_label: str | None
    start: datetime
    stop: datetime
    database_size_bytes: int | None
    backup_size_bytes: int | None
    repo_size_bytes: int | None
    repo_delta_bytes: int | None
    wal_start: str | None
    wal_stop: str | None
    lsn_start: str | None
    lsn_stop: str | None
    error: bool  # pgBackRest found page checksum errors
    references_count: int

    @property
    def duration_seconds(self) -> float:
        return (self.stop - self.start).total_seconds()


@dataclass(frozen=True)
class StanzaInfo:
    name: str
    status_code: int
    status_message: str
    backup_in_progress: bool
    cipher: str
    repo_status_code: int | None
    repo_status_message: str | None
    db_version: str | None
    system_id: str | None
    archive_id: str | None
    archive_min: str | None
    archive_max: str | None
    backups: tuple[Backup, ...]
    pgbackrest_version: str | None

    @property
    def good_backups(self) -> list[Backup]:
        return [b for b in self.backups if not b.error]


@dataclass(frozen=True)
class Retention:
    full: int | None
    full_type: str
    diff: int | None
    archive: int | None
    archive_type: str


@dataclass(frozen=True)
class WalGap:
    first: str  # first and last missing segment
    last: str
    first_number: int
    last_number: int
    preceding_time: datetime | None  # upload time of the last segment before the gap

    @property
    def text(self) -> str:
        return self.first if self.first == self.last else f"{self.first}…{self.last}"


@dataclass(frozen=True)
class WalCheck:
    """The repository's archived WAL from the first segment retention keeps to the newest."""

    segments: int
    missing: int
    gaps: tuple[WalGap, ...]
    newest_time: datetime | None  # upload time of the newest archived segment

    @property
    def gaps_text(self) -> str:
        shown = [gap.text for gap in self.gaps[:MAX_GAPS_SHOWN]]
        more = len(self.gaps) - MAX_GAPS_SHOWN
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class PitrWindow:
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return max((self.end - self.start).total_seconds(), 0.0) / 3600


# -- info --------------------------------------------------------------------------------

def parse_info(text: str, stanza: str) -> StanzaInfo:
    """The stanza's entry in `pgbackrest info --output=json`."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        raise PgBackRestError(f"pgbackrest info did not return JSON (got {text[:60]!r}); "
                              "is pgbackrest_command a pgBackRest 2.x command?") from None
    if not isinstance(document, list):
        raise PgBackRestError("pgbackrest info returned JSON that is not a list of stanzas")
    entry = next((s for s in document if isinstance(s, dict) and s.get("name") == stanza), None)
    if entry is None:
        raise PgBackRestError(f"pgbackrest info does not list stanza {stanza!r}; check "
                              "pgbackrest_stanza against the stanzas in pgbackrest.conf")
    try:
        return _stanza(entry)
    except (KeyError, TypeError, ValueError) as exc:
        raise PgBackRestError(f"pgbackrest info for stanza {stanza!r} is not in the expected "
                              f"shape ({type(exc).__name__}: {exc})") from None


def _stanza(entry: Mapping[str, Any]) -> StanzaInfo:
    status = entry["status"]
    repos = entry.get("repo") or []
    first_repo = repos[0] if repos else {}
    databases = entry.get("db") or []
    current_db = databases[-1] if databases else {}
    archives = entry.get("archive") or []
    current_archive = next((a for a in reversed(archives)
                            if a.get("database", {}).get("id") == current_db.get("id")),
                           archives[-1] if archives else {})
    backups = tuple(_backup(b) for b in entry.get("backup") or [])
    lock = status.get("lock", {}).get("backup", {})
    version = backups[-1] if backups else None
    return StanzaInfo(
        name=str(entry["name"]),
        status_code=int(status["code"]),
        status_message=str(status.get("message", "")),
        backup_in_progress=bool(lock.get("held", False)),
        cipher=str(entry.get("cipher", "none")),
        repo_status_code=_int(first_repo.get("status", {}).get("code")),
        repo_status_message=first_repo.get("status", {}).get("message"),
        db_version=current_db.get("version"),
        system_id=None if current_db.get("system-id") is None
        else str(current_db["system-id"]),
        archive_id=current_archive.get("id"),
        archive_min=current_archive.get("min"),
        archive_max=current_archive.get("max"),
        backups=backups,
        pgbackrest_version=None if version is None else _backrest_version(entry),
    )


def _backrest_version(entry: Mapping[str, Any]) -> str | None:
    backups = entry.get("backup") or []
    value = backups[-1].get("backrest", {}).get("version") if backups else None
    return None if value is None else str(value)


def _backup(raw: Mapping[str, Any]) -> Backup:
    info = raw.get("info", {})
    repository = info.get("repository", {})
    archive = raw.get("archive") or {}
    lsn = raw.get("lsn") or {}
    return Backup(
        label=str(raw["label"]),
        backup_type=str(raw["type"]),
        prior_label=raw.get("prior"),
        start=_time(raw["timestamp"]["start"]),
        stop=_time(raw["timestamp"]["stop"]),
        database_size_bytes=_int(info.get("size")),
        backup_size_bytes=_int(info.get("delta")),
        repo_size_bytes=_int(repository.get("size")),
        repo_delta_bytes=_int(repository.get("delta")),
        wal_start=archive.get("start"),
        wal_stop=archive.get("stop"),
        lsn_start=lsn.get("start"),
        lsn_stop=lsn.get("stop"),
        error=bool(raw.get("error", False)),
        references_count=len(raw.get("reference") or []),
    )


def _time(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=UTC)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# -- retention ---------------------------------------------------------------------------

def parse_help_options(text: str) -> dict[str, dict[str, str]]:
    """Each option of `pgbackrest help <command>` with its `current` and `default` notes."""
    options: dict[str, list[str]] = {}
    name: str | None = None
    for line in text.splitlines():
        match = _HELP_OPTION.match(line)
        if match:
            name = match.group(1)
            options[name] = [match.group(2)]
        elif name is not None and line.startswith("    ") and line.strip():
            options[name].append(line.strip())
        else:
            name = None
    parsed: dict[str, dict[str, str]] = {}
    for option, parts in options.items():
        notes = _HELP_NOTES.search(" ".join(parts))
        values: dict[str, str] = {}
        if notes:
            for item in notes.group(1).split(", "):
                key, _, value = item.partition("=")
                if key in ("current", "default"):
                    values[key] = value
        parsed[option] = values
    return parsed


def parse_retention(help_text: str) -> Retention:
    """repo1's retention from `pgbackrest help expire` (what is set, else the default)."""
    options = parse_help_options(help_text)

    def value(option: str) -> str | None:
        notes = options.get(f"repo-{option}", {})
        return notes.get("current", notes.get("default"))

    def number(option: str) -> int | None:
        raw = value(option)
        return int(raw) if raw is not None and raw.isdigit() else None

    return Retention(full=number("retention-full"),
                     full_type=value("retention-full-type") or "count",
                     diff=number("retention-diff"),
                     archive=number("retention-archive"),
                     archive_type=value("retention-archive-type") or "full")


# -- archived WAL ------------------------------------------------------------------------

def parse_wal_listing(text: str) -> dict[str, datetime]:
    """Segment name -> upload time, from `repo-ls --output=json --recurse` of an archive id."""
    try:
        listing = json.loads(text)
    except json.JSONDecodeError:
        raise PgBackRestError("pgbackrest repo-ls did not return JSON") from None
    if not isinstance(listing, dict):
        raise PgBackRestError("pgbackrest repo-ls returned JSON that is not an object")
    segments: dict[str, datetime] = {}
    for path, entry in listing.items():
        match = _ARCHIVED_SEGMENT.search(path)
        if match and isinstance(entry, dict) and entry.get("type") == "file":
            segments[match.group(1)] = _time(entry.get("time", 0))
    return segments


def segment_number(name: str, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> int:
    """A WAL file name's position in the WAL stream, whatever its timeline."""
    if not _SEGMENT.match(name):
        raise ValueError(f"not a WAL segment name: {name!r}")
    return int(name[8:16], 16) * (0x1_0000_0000 // segment_bytes) + int(name[16:24], 16)


def segment_name(timeline: str, number: int, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> str:
    per_log = 0x1_0000_0000 // segment_bytes
    return f"{timeline}{number // per_log:08X}{number % per_log:08X}"


def check_wal(segments: Mapping[str, datetime], first_needed: str | None,
              segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> WalCheck:
    """Missing segments from `first_needed` (the start of the oldest backup whose WAL
    retention keeps) to the newest archived segment. A segment counts as present on any
    timeline: after a promotion the new timeline continues the old one's numbering."""
    if not segments:
        return WalCheck(0, 0, (), None)
    by_number: dict[int, tuple[str, datetime]] = {}
    for name, uploaded in segments.items():
        number = segment_number(name, segment_bytes)
        if number not in by_number or name > by_number[number][0]:
            by_number[number] = (name, uploaded)
    last = max(by_number)
    newest_time = by_number[last][1]
    if first_needed is None:
        return WalCheck(len(by_number), 0, (), newest_time)
    first = segment_number(first_needed, segment_bytes)
    gaps: list[WalGap] = []
    missing = 0
    gap_start: int | None = None
    timeline = first_needed[:8]
    for number in range(first, last + 1):
        if number in by_number:
            if gap_start is not None:
                before = by_number.get(gap_start - 1)
                gaps.append(WalGap(segment_name(timeline, gap_start, segment_bytes),
                                   segment_name(timeline, number - 1, segment_bytes),
                                   gap_start, number - 1, before[1] if before else None))
                gap_start = None
            timeline = by_number[number][0][:8]
        else:
            missing += 1
            gap_start = number if gap_start is None else gap_start
    in_range = sum(1 for n in by_number if n >= first)
    return WalCheck(in_range, missing, tuple(gaps), newest_time)


def first_wal_retained(backups: Sequence[Backup], retention: Retention | None) -> str | None:
    """The first WAL segment pgBackRest keeps continuously: the start of the oldest backup,
    or, when archive retention is shorter than backup retention, of the oldest backup it
    keeps WAL for (older backups then restore only to their end, not to any time)."""
    good = [b for b in backups if not b.error and b.wal_start]
    if not good:
        return None
    if retention is None or retention.archive is None:
        return good[0].wal_start
    counted = {"full": {"full"}, "diff": {"full", "diff"}}.get(
        retention.archive_type, {"full", "diff", "incr"})
    kept = [b for b in good if b.backup_type in counted][-retention.archive:]
    return kept[0].wal_start if kept else good[0].wal_start


def pitr_window(backups: Sequence[Backup], wal: WalCheck | None,
                newest_archived_at: datetime | None,
                segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> PitrWindow | None:
    """The times a restore can reach: from the end of the oldest good backup whose WAL runs
    unbroken to the newest archived WAL, up to that WAL. A backup is consistent only from
    its stop time, so no earlier point can be restored from it. Without a WAL listing the
    newest archived WAL's time comes from the server (`newest_archived_at`)."""
    good = sorted((b for b in backups if not b.error), key=lambda b: b.stop)
    if not good:
        return None
    if wal is None or not wal.gaps:
        newest = wal.newest_time if wal is not None else newest_archived_at
        return PitrWindow(good[0].stop, max(good[-1].stop, newest or good[-1].stop))
    last_gap = wal.gaps[-1].last_number
    after_gaps = [b for b in good if b.wal_start is not None
                  and segment_number(b.wal_start, segment_bytes) > last_gap]
    if after_gaps:
        newest = wal.newest_time or after_gaps[-1].stop
        return PitrWindow(after_gaps[0].stop, max(after_gaps[-1].stop, newest))
    # Every backup lies before the last gap: the newest one reaches up to the next gap.
    newest_backup = good[-1]
    start_number = (segment_number(newest_backup.wal_start, segment_bytes)
                    if newest_backup.wal_start else 0)
    following = next((g for g in wal.gaps if g.last_number >= start_number), None)
    end = following.preceding_time if following is not None else None
    return PitrWindow(newest_backup.stop, max(newest_backup.stop, end or newest_backup.stop))


def newest_good(backups: Iterable[Backup], types: set[str] | None = None) -> Backup | None:
    """The most recent backup without errors (of one of `types`, if given)."""
    candidates = [b for b in backups if not b.error
                  and (types is None or b.backup_type in types)]
    return max(candidates, key=lambda b: b.stop, default=None)
