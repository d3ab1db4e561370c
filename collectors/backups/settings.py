"""The `[backups]` section and the per-target pgBackRest keys of kasho-ops.toml.

`collectors/core/config.py` calls these parsers; everything about backups, archiving,
replication thresholds and restore drills is validated here, with the same one-line errors.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.core.errors import ConfigError

Fail = Callable[[str], ConfigError]
STANZA_PATTERN_HELP = "letters, digits, '-', '_' and '.'"
TARGET_KEYS = frozenset({"pgbackrest_stanza", "pgbackrest_command"})


@dataclass(frozen=True)
class PgBackRestSource:
    """How to ask pgBackRest about one target: the stanza, and the command that runs
    `pgbackrest` where the repository is reachable (locally, or `ssh backup-host pgbackrest`)."""

    stanza: str
    command: tuple[str, ...] = ("pgbackrest",)


@dataclass(frozen=True)
class BackupSettings:
    pgbackrest_interval_seconds: int = 300
    states_interval_seconds: int = 60
    max_full_backup_age_hours: float = 192.0
    max_backup_age_hours: float = 26.0
    min_pitr_window_hours: float = 24.0
    max_ready_wal_files: int = 20
    max_slot_retained_mb: float = 5120.0
    max_replication_lag_mb: float = 256.0
    max_replication_lag_seconds: float = 300.0
    max_drill_age_days: float = 8.0
    drill_interval_hours: float = 0.0
    drill_scratch_dir: Path | None = None
    drill_pgbackrest_command: tuple[str, ...] = ("pgbackrest",)
    drill_pg_bin: Path | None = None
    drill_timeout_seconds: int = 3600


_DEFAULTS = BackupSettings()
_NUMBERS: dict[str, type] = {
    "pgbackrest_interval_seconds": int, "states_interval_seconds": int,
    "max_full_backup_age_hours": float, "max_backup_age_hours": float,
    "min_pitr_window_hours": float, "max_ready_wal_files": int,
    "max_slot_retained_mb": float, "max_replication_lag_mb": float,
    "max_replication_lag_seconds": float, "max_drill_age_days": float,
    "drill_interval_hours": float, "drill_timeout_seconds": int,
}
# Zero is allowed: a minimum of 0 turns the PITR-window warning off, an interval of 0 turns
# scheduled drills off.
_MAY_BE_ZERO = {"min_pitr_window_hours", "drill_interval_hours"}
SECTION_KEYS = frozenset({*_NUMBERS, "drill_scratch_dir", "drill_pgbackrest_command",
                          "drill_pg_bin"})
_LIMIT = 10**9  # beyond any sensible hour, megabyte or second count


def parse_backup_settings(section: dict[str, Any], fail: Fail) -> BackupSettings:
    values: dict[str, Any] = {}
    for key, kind in _NUMBERS.items():
        value = section.get(key, getattr(_DEFAULTS, key))
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if kind is int and not isinstance(value, int):
            is_number = False
        floor_ok = is_number and (value >= 0 if key in _MAY_BE_ZERO else value > 0)
        if not is_number or not floor_ok or value != value or value > _LIMIT:
            least = ">= 0" if key in _MAY_BE_ZERO else "> 0"
            whole = "a whole number" if kind is int else "a number"
            raise fail(f"backups.{key} must be {whole} {least} and at most {_LIMIT} "
                       f"(got {value!r})")
        values[key] = kind(value)
    for key in ("drill_scratch_dir", "drill_pg_bin"):
        if key in section:
            path = section[key]
            if not isinstance(path, str) or not path.strip():
                raise fail(f"backups.{key} must be a directory path (got {path!r})")
            values[key] = Path(path).expanduser()
    if "drill_pgbackrest_command" in section:
        values["drill_pgbackrest_command"] = parse_command(
            section["drill_pgbackrest_command"], "backups.drill_pgbackrest_command", fail)
    return BackupSettings(**values)


def parse_target_pgbackrest(item: dict[str, Any], label: str,
                            fail: Fail) -> PgBackRestSource | None:
    """The target's pgBackRest source, or None when it names no stanza."""
    stanza = item.get("pgbackrest_stanza")
    if stanza is None:
        if "pgbackrest_command" in item:
            raise fail(f"{label}.pgbackrest_command is set but pgbackrest_stanza is not; "
                       "name the stanza too (pgbackrest_stanza = \"main\")")
        return None
    if (not isinstance(stanza, str) or not stanza
            or not all(c.isalnum() or c in "-_." for c in stanza)):
        raise fail(f"{label}.pgbackrest_stanza must be a stanza name ({STANZA_PATTERN_HELP}), "
                   f"got {stanza!r}")
    command = parse_command(item.get("pgbackrest_command", "pgbackrest"),
                            f"{label}.pgbackrest_command", fail)
    return PgBackRestSource(stanza=stanza, command=command)


def parse_command(value: Any, label: str, fail: Fail) -> tuple[str, ...]:
    """A command line as a string (split like a shell would, never run by one) or a list."""
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise fail(f"{label}: cannot split {value!r} into words ({exc}); "
                       "check the quotes") from None
    elif isinstance(value, list) and all(isinstance(word, str) for word in value):
        words = list(value)
    else:
        raise fail(f"{label} must be a command line such as \"pgbackrest\" or "
                   f"\"ssh backup-host pgbackrest\" (got {value!r})")
    if not words or any(not word or "\0" in word for word in words):
        raise fail(f"{label} must name a program, for example \"pgbackrest\"")
    return tuple(words)
