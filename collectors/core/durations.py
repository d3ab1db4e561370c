"""Durations for log lines people read: '45 s', '2 min 10 s', '3 h 5 min', '2 d 4 h'."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """Whole units, largest two; never negative (a clock step back reads as 0 s)."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
