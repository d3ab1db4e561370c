"""Human-readable units shared by the charts and the headline metrics (binary bytes, like
pg_size_pretty: 1 MB here is 1024 kB)."""

from __future__ import annotations

import math

import pandas as pd

BYTE_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")


def byte_unit(largest_bytes: float) -> tuple[str, int]:
    """The unit to show values up to `largest_bytes` in, and its divisor."""
    exponent = 0
    if largest_bytes > 0 and math.isfinite(largest_bytes):
        exponent = min(int(math.log(largest_bytes, 1024)), len(BYTE_UNITS) - 1)
    return BYTE_UNITS[exponent], 1024**exponent


def format_bytes(value: float, signed: bool = False) -> str:
    """1536 -> '1.5 kB'; with signed=True, +/- is always shown ('+12 MB', '-3.0 kB')."""
    unit, divisor = byte_unit(abs(value))
    scaled = value / divisor
    if unit == "bytes":
        text = f"{abs(scaled):.0f} bytes"
    elif abs(scaled) >= 100:
        text = f"{abs(scaled):.0f} {unit}"
    else:
        text = f"{abs(scaled):.1f} {unit}"
    if value < 0:
        return "-" + text
    return ("+" + text) if signed else text


def format_bytes_column(values: pd.Series, per_day: bool = False) -> pd.Series:
    """A column of byte counts as text for a table ('672 MB', '+1.2 GB/day'); '—' where
    unknown. Tables are sorted before formatting: the text does not sort by size."""
    def one(value: object) -> str:
        if not isinstance(value, int | float) or math.isnan(value):
            return "—"
        text = format_bytes(float(value), signed=per_day)
        return f"{text}/day" if per_day else text

    return values.map(one)


def bytes_as_text(table: pd.DataFrame, byte_columns: tuple[str, ...],
                  per_day_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of `table` whose named byte columns (those present) are text in binary units."""
    out = table.copy()
    for column in out.columns:
        if column in byte_columns:
            out[column] = format_bytes_column(out[column])
        elif column in per_day_columns:
            out[column] = format_bytes_column(out[column], per_day=True)
    return out


def format_rate(per_second: float) -> str:
    """Transactions (or anything) per second, with sensible precision."""
    if per_second >= 100:
        return f"{per_second:,.0f}/s"
    if per_second >= 10:
        return f"{per_second:.1f}/s"
    return f"{per_second:.2f}/s"


def format_age(seconds: float | None) -> str:
    """Seconds -> '42 s ago', '7 min ago', '3 h ago', '2 d ago'; None -> 'never'."""
    if seconds is None:
        return "never"
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} d ago"


def format_seconds(seconds: float | None) -> str:
    """A duration for people (no "ago"): '42 s', '7.5 min', '3.2 h', '2.1 d'; None -> '—'."""
    if seconds is None or pd.isna(seconds):
        return "—"
    seconds = max(float(seconds), 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def format_interval(seconds: float) -> str:
    """A collection interval: 15 -> '15 s', 300 -> '5 min', 3600 -> '1 h'."""
    if seconds < 60 or seconds % 60:
        return f"{seconds:g} s"
    if seconds < 3600 or seconds % 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def age_unit(largest_seconds: float) -> tuple[str, float]:
    if largest_seconds >= 2 * 3600:
        return "h", 3600.0
    if largest_seconds >= 120:
        return "min", 60.0
    return "s", 1.0
