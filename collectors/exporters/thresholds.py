"""check_postgres' threshold syntax, parsed the way it parses it (2.25), as pure functions.

  size               "10 GB", "500kb", "1024" (bytes; units b k m g t p e z, 1024-based)
  time               "90", "90s", "5 minutes", "2h", "1 day", "1w" (seconds)
  integer for time   "5 for 2 minutes" (at least 5 sessions, the longest for 2 min), or a
                     time alone, or "+5" / "-5" (a count alone)
  backends           "12" (connections), "95%" (of max_connections), "-5" (5 or fewer left)
  locks (multival)   "100" (total) or "total=200:exclusive=20:waiting=5"
  size or percent    "1 GB", "50%", "1 GB and 50%", "1 GB or 50%" (bloat)
  bytes and time     "1048576 and 2min" (hot_standby_delay: either or both)

A threshold that cannot be parsed raises ThresholdError with check_postgres' own wording of
the fix; the check command turns it into UNKNOWN (exit 3), as check_postgres does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from collectors.core.errors import KashoOpsError

_SIZE = re.compile(r"^\s*(\d+\.?\d?)\s*([bkmgtepz])?\w*$", re.IGNORECASE)
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(\w*)\s*$", re.IGNORECASE)
_BACKENDS = re.compile(r"^(-?)(\d+)(%?)$")
_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5,
               "e": 1024**6, "z": 1024**7}
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class ThresholdError(KashoOpsError):
    """A --warning or --critical value check_postgres would refuse too."""

    exit_code = 3


def parse_size(text: str, level: str = "warning") -> float:
    match = _SIZE.match(text)
    if match is None:
        raise ThresholdError(f"Invalid size for '{level}' option: use a number and a unit "
                             "such as '10 GB'")
    unit = (match.group(2) or "b").lower()
    return float(match.group(1)) * _SIZE_UNITS[unit]


def parse_time(text: str, level: str = "warning") -> float:
    match = _TIME.match(text)
    unit = (match.group(2) or "s")[:1].lower() if match else ""
    if match is None or unit not in _TIME_UNITS:
        raise ThresholdError(f"Value for '{level}' must be a valid time, such as '5 minutes' "
                             f"or '2h' (got {text!r})")
    return float(match.group(1)) * _TIME_UNITS[unit]


def parse_integer(text: str, level: str = "warning", positive: bool = True) -> int:
    cleaned = text.replace("_", "")
    if not re.fullmatch(r"[-+]?\d+", cleaned) or (positive and int(cleaned) <= 0):
        raise ThresholdError(f"Invalid argument for '{level}' option: must be a "
                             f"{'positive ' if positive else ''}integer")
    return int(cleaned)


@dataclass(frozen=True)
class CountForTime:
    """txn_idle, txn_time, query_time: `count` sessions (None: any) and `seconds` (None: any)."""

    count: int | None
    seconds: float | None

    def reached(self, count: int, seconds: float) -> bool:
        if self.count is not None and self.seconds is not None:
            return seconds >= self.seconds and count >= self.count
        if self.seconds is not None:
            return seconds >= self.seconds
        return self.count is not None and count >= self.count


def parse_count_for_time(text: str, level: str = "warning",
                         default_to_int: bool = False) -> CountForTime:
    both = re.match(r"^(.+?)\s(?:for|and)\s(.+)$", text, re.IGNORECASE)
    if both:
        count, time = both.group(1), both.group(2)
        if re.search(r"[a-zA-Z]$", count) or re.match(r"^[-+]\d+$", time):
            count, time = time, count
        return CountForTime(parse_integer(count, level, positive=False),
                            parse_time(time, level))
    if re.fullmatch(r"[-+]\d+", text) or (default_to_int and re.fullmatch(r"\d+", text)):
        return CountForTime(int(text), None)
    return CountForTime(None, parse_time(text, level))


@dataclass(frozen=True)
class BackendsThreshold:
    """A connection count (`12`), a share of max_connections (`95%`) or slots left (`-5`)."""

    value: int
    percent: bool = False
    left: bool = False

    def limit_for(self, max_connections: int) -> int:
        """The connection count this threshold means, for the perfdata."""
        if self.left:
            return max_connections - self.value
        if self.percent:
            return int(self.value * max_connections / 100)
        return self.value

    def reached(self, total: int, max_connections: int) -> bool:
        if self.left:
            return max_connections - total <= self.value
        if self.percent:
            return total / max_connections * 100 >= self.value
        return total >= self.value


def parse_backends(warning: str | None, critical: str | None) -> tuple[
        BackendsThreshold, BackendsThreshold]:
    """check_postgres' defaults: warning 90%, critical 95% (critical alone: both)."""
    if critical and not warning:
        warning = critical
    warning, critical = warning or "90%", critical or "95%"
    found = []
    for level, text in (("Warning", warning), ("Critical", critical)):
        match = _BACKENDS.match(text)
        if match is None:
            raise ThresholdError(f"{level} value must be a number, a percentage or a "
                                 "negative number (connections left)")
        if match.group(1) and match.group(3):
            raise ThresholdError("Cannot specify a negative percentage")
        found.append(BackendsThreshold(int(match.group(2)), bool(match.group(3)),
                                       bool(match.group(1))))
    warn, crit = found
    if (not warn.left and not crit.left and warn.percent == crit.percent
            and warn.value > crit.value):
        raise ThresholdError("The 'warning' option cannot be greater than the 'critical' "
                             "option")
    if warn.left and crit.left and warn.value < crit.value:
        raise ThresholdError("The 'warning' option cannot be less than the 'critical' option")
    return warn, crit


def parse_locks(text: str | None, level: str = "warning") -> dict[str, int] | None:
    """`100` (total) or `total=200:exclusive=20:waiting=5`; lock mode names lower-case,
    without 'lock' at the end, as pg_locks' mode lowercased ('accessexclusive')."""
    if not text:
        return None
    pairs = re.findall(r"(\w+)\s*=\s*(\d+)", text)
    if pairs:
        return {re.sub(r"lock$", "", name.lower()): int(value) for name, value in pairs}
    if re.fullmatch(r"\d+", text):
        return {"total": int(text)}
    raise ThresholdError(f"Invalid value for '{level}' option: use a number or "
                         "locktype=number, such as total=200:exclusive=20")


SizeOrPercent = Callable[[float, float], bool]  # (wasted bytes, bloat percent) -> reached


def _size_or_percent(text: str, level: str) -> tuple[float | None, float | None]:
    if re.fullmatch(r"\d+%", text.strip()):
        return None, float(text.strip()[:-1])
    return parse_size(text, level), None


def parse_size_or_percent(text: str | None, level: str = "warning") -> SizeOrPercent:
    """A bloat threshold: `1 GB`, `50%`, `1 GB and 50%` (both), `1 GB or 50%` (either)."""
    if not text:
        return lambda wasted, percent: False
    combined = re.match(r"^(.+?)\s([&|]{2}|and|or)\s(.+)$", text, re.IGNORECASE)
    if combined:
        left = _size_or_percent(combined.group(1), level)
        right = _size_or_percent(combined.group(3), level)
        size_or_none = left[0] if left[0] is not None else right[0]
        percent_or_none = left[1] if left[1] is not None else right[1]
        if size_or_none is None or percent_or_none is None:
            raise ThresholdError(f"Invalid '{level}': combine one size and one percentage")
        size, percent = size_or_none, percent_or_none
        if combined.group(2).lower() in ("&&", "and"):
            return lambda wasted, pct: wasted >= size and pct >= percent
        return lambda wasted, pct: wasted >= size or pct >= percent
    only_size, only_percent = _size_or_percent(text, level)
    if only_percent is not None:
        share = only_percent
        return lambda wasted, pct: pct >= share
    assert only_size is not None
    bytes_ = only_size
    return lambda wasted, pct: wasted >= bytes_
