"""What every page is given: the chosen target, the time range and its window, the config.

`app.py` builds one PageContext per run from the sidebar (which mirrors the URL query
string) and stores it for the page; a page calls `current()` to read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from collectors.core.config import Config

TIME_RANGES: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
RANGE_LABELS: dict[str, str] = {
    "15m": "Last 15 minutes",
    "1h": "Last hour",
    "6h": "Last 6 hours",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
}
DEFAULT_RANGE = "6h"
# The window's end is rounded up to this step so cached reads are shared for that long.
WINDOW_STEP_SECONDS = 30
# Charts show at most about this many points per series; the store averages finer samples.
POINTS_PER_CHART = 360
SESSION_KEY = "kasho_ops.page_context"


@dataclass(frozen=True)
class PageContext:
    target: str
    range: str  # a key of TIME_RANGES
    start: datetime  # UTC, exclusive
    end: datetime  # UTC, inclusive
    config: Config
    pinned: bool = False  # the end comes from the URL (?end=…), not from now

    @property
    def range_label(self) -> str:
        return RANGE_LABELS[self.range]

    @property
    def bucket_seconds(self) -> int:
        """Width of the time buckets the store aggregates samples into for charts."""
        return bucket_seconds(self.range)


def time_window(range_key: str, now: datetime) -> tuple[datetime, datetime]:
    """(start, end] of a range ending at `now` rounded up to WINDOW_STEP_SECONDS."""
    epoch = now.timestamp()
    end = datetime.fromtimestamp(math.ceil(epoch / WINDOW_STEP_SECONDS) * WINDOW_STEP_SECONDS,
                                 tz=UTC)
    return end - TIME_RANGES[range_key], end


def bucket_seconds(range_key: str) -> int:
    return max(1, int(TIME_RANGES[range_key].total_seconds()) // POINTS_PER_CHART)


def build_context(config: Config, target: str, range_key: str, now: datetime | None = None,
                  pinned_end: datetime | None = None) -> PageContext:
    """The context of a range ending now, or at `pinned_end` (a link to a past moment)."""
    if pinned_end is not None:
        return PageContext(target=target, range=range_key, start=pinned_end
                           - TIME_RANGES[range_key], end=pinned_end, config=config, pinned=True)
    start, end = time_window(range_key, now or datetime.now(UTC))
    return PageContext(target=target, range=range_key, start=start, end=end, config=config)


def parse_end(value: str) -> datetime | None:
    """An ?end= value (ISO 8601; UTC when it names no zone), or None if it is not one."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def end_param(moment: datetime) -> str:
    """The ?end= value for a moment (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def current() -> PageContext:
    """The PageContext `app.py` prepared for this run (call from a page)."""
    import streamlit as st

    context = st.session_state.get(SESSION_KEY)
    if not isinstance(context, PageContext):
        raise RuntimeError("no PageContext: run pages through dashboard/app.py, not directly")
    return context
