"""Collection runs on its interval: the scheduler's fire times do not drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.core.scheduler import collection_trigger


def test_a_thousand_runs_of_a_ten_second_group_take_ten_thousand_seconds() -> None:
    trigger = collection_trigger(10)
    first = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    fire = first
    for _ in range(1000):
        next_fire = trigger.get_next_fire_time(fire, fire)
        assert next_fire is not None
        fire = next_fire
    # 1000 intervals later, exactly: a jitter fed into the next fire time drifts ~5 % (500 s).
    assert fire - first == timedelta(seconds=10_000)
