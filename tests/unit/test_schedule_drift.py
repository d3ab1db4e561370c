"""Collection runs on its interval: the scheduler's fire times do not drift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from collectors.core.config import parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector


class NoStore:
    def write(self, *_: object) -> None:
        raise AssertionError("not used")


def test_a_thousand_runs_of_a_ten_second_group_take_ten_thousand_seconds() -> None:
    config = parse_config({"store": {"dsn": "host=127.0.0.1 dbname=s"},
                           "targets": [{"name": "kasho", "dsn": "host=127.0.0.1 dbname=k"}],
                           "intervals": {"connections": 10}}, environ={})
    collector = Collector(config, [load_catalog()["connections"]], NoStore())  # type: ignore[arg-type]
    scheduler = collector.build_scheduler()
    job = next(j for j in scheduler.get_jobs() if j.id == "kasho/connections")
    fire = job.next_run_time
    first = fire
    for _ in range(1000):
        fire = job.trigger.get_next_fire_time(fire, fire)
    # 1000 intervals later, exactly: a jitter fed into the next fire time drifts ~5 % (500 s).
    assert fire - first == timedelta(seconds=10_000)
    assert first.tzinfo is not None and first > datetime(2000, 1, 1, tzinfo=UTC)
