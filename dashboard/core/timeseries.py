"""The one rule for turning stored samples into chart buckets (pure).

Samples arrive bucketed by the store (buckets are whole multiples of the group's collection
interval, epoch-aligned). What a bucket without rows means depends on what the collector
did then, which `Collection` records from `collector_runs`:

  the bucket holds a successful run           the run found nothing: 0 (no active session,
                                              no lock wait, no statement ran)
  the bucket lies in a collection gap         no collection: a real gap, drawn as one and
                                              named on hover ("no collection from 10:01 to 10:04")
  neither (a run drifted into the next        the neighbouring bucket's value: collection
  bucket: 10.5 s for a 10 s interval)         runs late by a few percent, that is no gap
  before the group's first sample             nothing yet: the chart starts at the data

A gap is a stretch between two successful runs (or from the last one to now) longer than
`tolerance_seconds`: one and a half intervals plus the scheduler's jitter, so one missed run
is a gap and a late one is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from dashboard.core.units import format_interval


def tolerance_seconds(interval_seconds: float) -> float:
    """Longest spacing of two runs that is not a missing collection."""
    return 1.5 * interval_seconds + min(interval_seconds / 10, 5.0)


@dataclass(frozen=True)
class Gap:
    """No successful collection from `start` to `end` (both exclusive)."""

    start: datetime
    end: datetime
    ongoing: bool = False  # the collection has not resumed since `start`

    def describe(self) -> str:
        if self.ongoing:
            return f"no collection since {self.start:%Y-%m-%d %H:%M:%S} UTC"
        return (f"no collection from {self.start:%Y-%m-%d %H:%M:%S} to "
                f"{self.end:%H:%M:%S} UTC")


@dataclass(frozen=True)
class Collection:
    """What the collector did for one group on one target in a chart's window."""

    group: str
    interval_seconds: int
    bucket_seconds: int
    start: datetime  # the window, (start, end]
    end: datetime
    now: datetime  # buckets after it are the future, not gaps
    run_counts: dict[pd.Timestamp, int] = field(default_factory=dict)  # runs per bucket
    gaps: tuple[Gap, ...] = ()
    first_at: datetime | None = None  # the group's first successful run, ever
    last_at: datetime | None = None  # its latest successful run, ever

    @property
    def run_buckets(self) -> set[pd.Timestamp]:
        """The buckets holding at least one successful run."""
        return set(self.run_counts)

    def covered_seconds(self, bucket: pd.Timestamp) -> float:
        """The collection time a bucket's runs stand for (runs x interval)."""
        return self.run_counts.get(bucket, 0) * float(self.interval_seconds)

    @property
    def window_seconds(self) -> float:
        """How much of the window has passed (it may end a little in the future)."""
        return max((min(self.end, self.now) - self.start).total_seconds(), 1.0)

    @property
    def never_collected(self) -> bool:
        return self.first_at is None

    def grid(self) -> pd.DatetimeIndex:
        """Every bucket start of the window up to now, UTC."""
        step = self.bucket_seconds
        first = int(self.start.timestamp() // step) * step
        last_ts = min(self.end, self.now).timestamp()
        starts = np.arange(first, last_ts, step, dtype="int64")
        starts = starts[starts + step > self.start.timestamp()]
        return pd.DatetimeIndex(pd.to_datetime(starts, unit="s", utc=True))

    def chart_gaps(self) -> tuple[Gap, ...]:
        """The gaps a chart should show: at least one bucket wide (shorter ones leave no
        empty bucket behind) and inside the window."""
        wide = timedelta(seconds=self.bucket_seconds)
        return tuple(g for g in self.gaps if g.end - g.start >= wide
                     and g.end > self.start and g.start < self.end)


def find_gaps(spaced: Sequence[tuple[datetime, datetime]], first_run: datetime | None,
              last_run: datetime | None, start: datetime, now: datetime,
              interval_seconds: float, first_at: datetime | None) -> tuple[Gap, ...]:
    """The collection gaps of a window.

    `spaced`: consecutive successful runs farther apart than the tolerance, among the runs
    from one tolerance before `start` to now; `first_run`/`last_run`: the first and last of
    those runs; `first_at`: the group's first run ever. Adds the stretch from `start` to the
    first run when the history began earlier, and from the last run to now when collection
    stopped."""
    limit = timedelta(seconds=tolerance_seconds(interval_seconds))
    if first_run is None or last_run is None:
        if first_at is not None and first_at <= now:
            return (Gap(start, now, ongoing=True),)
        return ()
    gaps: list[Gap] = []
    if first_at is not None and first_at < start and first_run > start:
        gaps.append(Gap(start, first_run))
    gaps.extend(Gap(previous, current) for previous, current in sorted(spaced))
    if now - last_run > limit:
        gaps.append(Gap(last_run, now, ongoing=True))
    return tuple(gaps)


def _in_gap(bucket: pd.Timestamp, width: timedelta, gaps: Sequence[Gap]) -> bool:
    low, high = bucket.to_pydatetime(), (bucket + width).to_pydatetime()
    return any(gap.start < high and low < gap.end for gap in gaps)


def complete_wide(wide: pd.DataFrame, collection: Collection,
                  found_nothing_is_zero: bool = True) -> pd.DataFrame:
    """`wide` (indexed by UTC bucket start, one column per series) on the window's full
    bucket grid, by the rule in the module docstring. Gap buckets and buckets before the
    first sample are NaN."""
    grid = collection.grid()
    if wide.empty and not len(wide.columns):
        return pd.DataFrame(index=grid)
    index = pd.DatetimeIndex(pd.to_datetime(wide.index, utc=True))
    known = wide.set_axis(index).groupby(level=0).mean()
    out = known.reindex(grid.union(index).sort_values())
    out = out[out.index.isin(grid)]
    width = timedelta(seconds=collection.bucket_seconds)
    first = collection.first_at
    runs = collection.run_buckets
    missing = out.isna().all(axis=1)
    drifted = []
    for bucket in out.index[missing.to_numpy()]:
        if first is not None and (bucket + width).to_pydatetime() <= first:
            continue  # before the first sample: nothing yet
        if bucket in runs:
            if found_nothing_is_zero:
                out.loc[bucket] = 0.0
        elif not _in_gap(bucket, width, collection.gaps):
            drifted.append(bucket)
    if found_nothing_is_zero:
        # A series absent from a bucket that has other series' rows: found nothing for it.
        has_rows = out.notna().any(axis=1)
        out.loc[has_rows] = out.loc[has_rows].fillna(0.0)
    if drifted:
        filled = out.ffill(limit=1).bfill(limit=1)
        out.loc[drifted] = filled.loc[drifted]
    return out


def complete_long(frame: pd.DataFrame, collection: Collection, value: str,
                  series: str | None = None, time: str = "collected_at",
                  found_nothing_is_zero: bool = True) -> pd.DataFrame:
    """A long frame (time, [series,] value) completed on the grid; gap rows carry NaN."""
    if series is None:
        wide = frame.set_index(time)[[value]] if not frame.empty else pd.DataFrame(
            columns=[value])
        out = complete_wide(wide, collection, found_nothing_is_zero)
        if value not in out.columns:
            out[value] = np.nan
        return out.rename_axis(time).reset_index()
    wide = (frame.pivot_table(index=time, columns=series, values=value, aggfunc="sum")
            if not frame.empty else pd.DataFrame())
    out = complete_wide(wide, collection, found_nothing_is_zero)
    if out.columns.empty:
        return pd.DataFrame(columns=[time, series, value])
    long = out.rename_axis(index=time, columns=series).stack(future_stack=True)
    return long.rename(value).reset_index()


def gap_hover(gaps: Sequence[Gap]) -> list[str]:
    return [gap.describe() for gap in gaps]


ALL_HIDDEN = ("everything here is Kasho Ops' own activity, hidden: the sidebar's “Show "
              "Kasho Ops' own activity” shows it.")


def empty_reason(collection: Collection, what: str, range_phrase: str,
                 all_hidden: bool = False) -> str:
    """Why a chart of `what` has nothing to draw in the window, in one sentence."""
    if all_hidden:
        return f"No {what} of the application {range_phrase}: {ALL_HIDDEN}"
    if collection.never_collected:
        return (f"No {what} yet: the {collection.group} group has never been collected for "
                "this target. Is `kasho-ops collect` running?")
    assert collection.first_at is not None and collection.last_at is not None
    if collection.first_at > collection.end:
        return (f"No {what} {range_phrase}; the first sample is at "
                f"{collection.first_at:%Y-%m-%d %H:%M} UTC.")
    if collection.last_at <= collection.start:
        return (f"No {what} {range_phrase}: {collection.group} was last collected at "
                f"{collection.last_at:%Y-%m-%d %H:%M} UTC. Is `kasho-ops collect` running?")
    return (f"No {what} {range_phrase}; the {collection.group} samples here (every "
            f"{format_interval(collection.interval_seconds)}, first at "
            f"{max(collection.first_at, collection.start):%Y-%m-%d %H:%M} UTC) found none.")
