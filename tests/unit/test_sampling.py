"""Sampled groups: a window of samples becomes one row per key of averages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.core.metric_groups import load_catalog
from collectors.core.sampling import SampleWindow, average_rows, window_note

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_a_key_missing_from_a_sample_counts_as_zero_there() -> None:
    window = SampleWindow(("wait_event_type",), ("sessions",))
    window.add([{"wait_event_type": "CPU", "sessions": 2}], T0)
    window.add([{"wait_event_type": "CPU", "sessions": 1},
                {"wait_event_type": "Lock", "sessions": 3}], T0 + timedelta(seconds=1))
    window.add([], T0 + timedelta(seconds=2))  # nothing active: a sample of zero
    window.add([{"wait_event_type": "CPU", "sessions": 1}], T0 + timedelta(seconds=3))
    closed = window.close(T0 + timedelta(seconds=4))
    assert closed.samples == 4 and closed.since == T0
    assert closed.rows == [{"wait_event_type": "CPU", "sessions": 1.0},
                           {"wait_event_type": "Lock", "sessions": 0.75}]
    assert window_note(closed) is None
    # The next window starts where this one closed, empty.
    assert (window.since, window.samples, window.sums) == (T0 + timedelta(seconds=4), 0, {})


def test_failed_samples_are_counted_and_reported_when_none_succeeded() -> None:
    window = SampleWindow(("k",), ("v",))
    window.add_failure("target x: cannot connect: refused", T0)
    window.add_failure("target x: cannot connect: refused", T0 + timedelta(seconds=1))
    closed = window.close(T0 + timedelta(seconds=2))
    assert closed.rows == [] and closed.failures == 2
    assert window_note(closed) == ("all 2 samples failed; last error: target x: cannot "
                                   "connect: refused")
    assert average_rows({("a",): [3.0]}, 0, ("k",), ("v",)) == []


def test_the_catalogue_declares_active_sessions_as_a_sampled_group() -> None:
    group = load_catalog()["active_sessions"]
    assert group.is_sampled and not group.is_counter
    assert (group.sample_interval_seconds, group.interval_seconds) == (1, 60)
    assert group.averaged == ("sessions",)
    assert group.keys == ("datname", "usename", "application_name", "wait_event_type",
                          "wait_event", "queryid")
