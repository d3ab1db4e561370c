"""What every page is given: the chosen target, the time range and its window, the config,
Kasho Ops' own activity on the target and whether to show it.

`app.py` builds one PageContext per run from the sidebar (which mirrors the URL query
string) and stores it for the page; a page calls `current()` to read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from collectors.core.config import Config
from collectors.core.metric_groups import load_catalog
from dashboard.core.own import OwnActivity

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
# How a tile names the range it measures a change over: "+12 MB in last 6 h".
RANGE_SHORT: dict[str, str] = {"15m": "15 min", "1h": "1 h", "6h": "6 h", "24h": "24 h",
                               "7d": "7 days", "30d": "30 days"}
DEFAULT_RANGE = "6h"
# A new install opens on the shortest of these that holds its whole history.
FITTING_RANGES = ("15m", "1h", "6h")
# The window's end is rounded up to this step so cached reads are shared for that long.
WINDOW_STEP_SECONDS = 30
# Charts show at most about this many points per series; the store averages finer samples.
# A half-page chart is about 500 px wide: more points than this only cost drawing time.
POINTS_PER_CHART = 240
SESSION_KEY = "kasho_ops.page_context"


@dataclass(frozen=True)
class PageContext:
    target: str
    range: str  # a key of TIME_RANGES
    start: datetime  # UTC, exclusive
    end: datetime  # UTC, inclusive
    config: Config
    own: OwnActivity = field(default_factory=OwnActivity)
    show_own: bool = False  # show Kasho Ops' own sessions, statements and store database
    pinned: bool = False  # the end comes from the URL (?end=…), not from now

    @property
    def range_label(self) -> str:
        return RANGE_LABELS[self.range]

    @property
    def range_phrase(self) -> str:
        """How a change or a total names its range, short enough for a tile: 'in last 6 h'
        ('in 6 h to 09:30' when a link pinned the end)."""
        if self.pinned:
            return f"in {RANGE_SHORT[self.range]} to {self.end:%H:%M}"
        return f"in last {RANGE_SHORT[self.range]}"

    @property
    def range_words(self) -> str:
        """The range in a sentence: 'in the last 6 hours' ('in the 6 hours to 09:30 UTC'
        when a link pinned the end)."""
        if self.pinned:
            return (f"in the {self.range_label.lower().removeprefix('last ')} to "
                    f"{self.end:%Y-%m-%d %H:%M} UTC")
        return "in the " + self.range_label.lower()

    @property
    def bucket_seconds(self) -> int:
        """Width of the time buckets for a chart of no particular group."""
        return bucket_seconds(self.range)

    def interval_of(self, group: str) -> int:
        """The group's collection interval: the config's [intervals], else the catalogue's."""
        return interval_of(self.config, group)

    def bucket_for(self, group: str) -> int:
        """Chart buckets for a group: whole multiples of its interval, at most about
        POINTS_PER_CHART of them over the range."""
        return chart_bucket_seconds(TIME_RANGES[self.range].total_seconds(),
                                    self.interval_of(group))


def time_window(range_key: str, now: datetime) -> tuple[datetime, datetime]:
    """(start, end] of a range ending at `now` rounded up to WINDOW_STEP_SECONDS."""
    epoch = now.timestamp()
    end = datetime.fromtimestamp(math.ceil(epoch / WINDOW_STEP_SECONDS) * WINDOW_STEP_SECONDS,
                                 tz=UTC)
    return end - TIME_RANGES[range_key], end


def bucket_seconds(range_key: str) -> int:
    return max(1, int(TIME_RANGES[range_key].total_seconds()) // POINTS_PER_CHART)


def chart_bucket_seconds(span_seconds: float, interval_seconds: int,
                         points: int = POINTS_PER_CHART) -> int:
    """The smallest whole multiple of the collection interval that keeps a chart of
    `span_seconds` at or under `points` buckets: never finer than the collection, so a
    bucket is empty only when a collection is."""
    interval = max(int(interval_seconds), 1)
    return interval * max(1, math.ceil(span_seconds / points / interval))


def interval_of(config: Config, group: str) -> int:
    override = config.collector.intervals.get(group)
    if override is not None:
        return override
    catalog = load_catalog()
    return catalog[group].interval_seconds if group in catalog else 60


def fitting_range(history_seconds: float | None) -> str:
    """The range a page opens on: the shortest of FITTING_RANGES that holds the whole
    history (a new install opens on its first minutes), else DEFAULT_RANGE."""
    if history_seconds is None:
        return DEFAULT_RANGE
    for key in FITTING_RANGES:
        if history_seconds <= TIME_RANGES[key].total_seconds():
            return key
    return DEFAULT_RANGE


def build_context(config: Config, target: str, range_key: str,
                  now: datetime | None = None, own: OwnActivity | None = None,
                  show_own: bool = False, pinned_end: datetime | None = None) -> PageContext:
    """The context of a range ending now, or at `pinned_end` (a link to a past moment)."""
    if pinned_end is not None:
        return PageContext(target=target, range=range_key, start=pinned_end
                           - TIME_RANGES[range_key], end=pinned_end, config=config,
                           own=own or OwnActivity(), show_own=show_own, pinned=True)
    start, end = time_window(range_key, now or datetime.now(UTC))
    return PageContext(target=target, range=range_key, start=start, end=end, config=config,
                       own=own or OwnActivity(), show_own=show_own)


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
