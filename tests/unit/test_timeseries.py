"""The one bucketing rule (dashboard/core/timeseries.py): a run that found nothing is 0, a
late run is no gap, a missing collection is, and an empty chart says why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard.core.context import chart_bucket_seconds, fitting_range
from dashboard.core.timeseries import (
    Collection,
    Gap,
    complete_long,
    complete_wide,
    empty_reason,
    find_gaps,
    tolerance_seconds,
)

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ts(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(at(seconds))


def collection(runs: list[float], gaps: tuple[Gap, ...] = (), first: float | None = -3600,
               end: float = 100, bucket: int = 10) -> Collection:
    counts: dict[pd.Timestamp, int] = {}
    for r in runs:
        b = ts(r // bucket * bucket)
        counts[b] = counts.get(b, 0) + 1
    return Collection("wait_events", 10, bucket, at(0), at(end), at(end), counts, gaps,
                      at(first) if first is not None else None, at(max(runs, default=0)))


def test_chart_buckets_are_whole_intervals_never_finer_than_collection() -> None:
    assert chart_bucket_seconds(15 * 60, 10) == 10  # 3.75 s would leave buckets empty
    assert chart_bucket_seconds(15 * 60, 15) == 15
    assert chart_bucket_seconds(6 * 3600, 10) == 90  # at most 240 points a chart
    assert chart_bucket_seconds(7 * 86400, 15) == 2520
    assert chart_bucket_seconds(7 * 86400, 60) == 2520
    assert chart_bucket_seconds(7 * 86400, 300) == 2700


def test_a_run_that_found_nothing_is_zero_not_a_gap() -> None:
    # Runs every 10 s; rows (an active session) only in the first bucket.
    wide = pd.DataFrame({"CPU": [1.0]}, index=[ts(0)])
    out = complete_wide(wide, collection([1, 11, 21, 31, 41, 51, 61, 71, 81, 91]))
    assert out["CPU"].tolist() == [1.0] + [0.0] * 9


def test_a_series_absent_from_a_bucket_with_rows_is_zero() -> None:
    wide = pd.DataFrame({"CPU": [1.0, np.nan], "IO": [np.nan, 2.0]}, index=[ts(0), ts(10)])
    out = complete_wide(wide, collection([1, 11]))
    assert out.loc[ts(0)].tolist() == [1.0, 0.0]
    assert out.loc[ts(10)].tolist() == [0.0, 2.0]


def test_drift_leaves_no_gap_a_missing_run_does() -> None:
    # 10.5 s spacing: the bucket at 20 s holds no run but is no gap.
    runs = [0.5, 11.0, 31.5, 42.0]
    drift = collection(runs)
    wide = pd.DataFrame({"n": [3.0, 4.0, 5.0, 6.0]}, index=[ts(0), ts(10), ts(30), ts(40)])
    out = complete_wide(wide, drift).loc[:ts(40)]
    assert out["n"].tolist() == [3.0, 4.0, 4.0, 5.0, 6.0]
    # A collection missing from 42 s to 80 s: the buckets between are NaN.
    gap = Gap(at(42), at(80))
    missing = complete_wide(pd.DataFrame({"n": [6.0, 7.0]}, index=[ts(40), ts(80)]),
                            collection([42, 80], (gap,)))
    assert missing.loc[ts(50):ts(70), "n"].isna().all()
    assert missing.loc[ts(80), "n"] == 7.0


def test_before_the_first_sample_there_is_nothing_yet() -> None:
    out = complete_wide(pd.DataFrame({"n": [2.0]}, index=[ts(50)]),
                        collection([51, 61], first=50))
    assert out.loc[:ts(40), "n"].isna().all()
    assert out.loc[ts(60), "n"] == 0.0


def test_long_frames_keep_their_series() -> None:
    frame = pd.DataFrame({"collected_at": [ts(0), ts(0)], "state": ["active", "idle"],
                          "connections": [1.0, 3.0]})
    out = complete_long(frame, collection([1, 11], end=20), "connections", "state")
    assert out.to_dict("records") == [
        {"collected_at": ts(0), "state": "active", "connections": 1.0},
        {"collected_at": ts(0), "state": "idle", "connections": 3.0},
        {"collected_at": ts(10), "state": "active", "connections": 0.0},
        {"collected_at": ts(10), "state": "idle", "connections": 0.0}]


def test_gaps_from_runs_spaced_too_far_apart_and_a_stopped_collector() -> None:
    assert tolerance_seconds(10) == 16.0
    assert tolerance_seconds(300) == 455.0
    gaps = find_gaps([(at(30), at(60))], first_run=at(-5), last_run=at(60), start=at(0),
                     now=at(100), interval_seconds=10, first_at=at(-3600))
    assert gaps == (Gap(at(30), at(60)), Gap(at(60), at(100), ongoing=True))
    assert gaps[0].describe() == "no collection from 2026-03-01 10:00:30 to 10:01:00 UTC"
    assert gaps[1].describe() == "no collection since 2026-03-01 10:01:00 UTC"
    # The window starts before the first run it holds, with history before it: a gap.
    assert find_gaps([], at(40), at(95), at(0), at(100), 10, at(-3600)) == (
        Gap(at(0), at(40)),)
    # History that begins inside the window is not a gap.
    assert find_gaps([], at(40), at(95), at(0), at(100), 10, at(40)) == ()
    # Nothing in the window although the group ran before: one ongoing gap.
    assert find_gaps([], None, None, at(0), at(100), 10, at(-3600)) == (
        Gap(at(0), at(100), ongoing=True),)
    assert find_gaps([], None, None, at(0), at(100), 10, None) == ()


def test_chart_gaps_skip_gaps_narrower_than_a_bucket() -> None:
    c = collection([], (Gap(at(10), at(14)), Gap(at(20), at(50))))
    assert c.chart_gaps() == (Gap(at(20), at(50)),)


@pytest.mark.parametrize(("first", "last", "expected"), [
    (None, None, "No active sessions yet: the wait_events group has never been collected for "
                 "this target. Is `kasho-ops collect` running?"),
    (-7200, -3600, "No active sessions in the last hour: wait_events was last collected at "
                   "2026-03-01 09:00 UTC. Is `kasho-ops collect` running?"),
    (-7200, 90, "No active sessions in the last hour; the wait_events samples here (every "
                "10 s, first at 2026-03-01 10:00 UTC) found none."),
])
def test_an_empty_chart_says_why(first: float | None, last: float | None,
                                 expected: str) -> None:
    c = Collection("wait_events", 10, 10, at(0), at(100), at(100), {}, (),
                   at(first) if first is not None else None,
                   at(last) if last is not None else None)
    assert empty_reason(c, "active sessions", "in the last hour") == expected


def test_all_hidden_says_so() -> None:
    c = collection([1])
    assert empty_reason(c, "statements", "in the last hour", all_hidden=True).startswith(
        "No statements of the application in the last hour: everything here is Kasho Ops' "
        "own activity, hidden")


@pytest.mark.parametrize(("history", "expected"), [
    (None, "6h"), (0, "15m"), (600, "15m"), (901, "1h"), (3 * 3600, "6h"), (30 * 86400, "6h")])
def test_a_new_install_opens_on_a_range_that_holds_its_data(history: float | None,
                                                            expected: str) -> None:
    assert fitting_range(history) == expected
