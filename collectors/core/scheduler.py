"""Run every metric group against every target on its interval (APScheduler 3).

One job per (target, group): max_instances=1 so a slow run is never doubled, coalesce so a
backlog collapses into one run, and a stable per-job start offset so targets do not all fire
at once. No per-run jitter: APScheduler adds it to the fire time the next run counts from,
so a jitter of a tenth of the interval made every group drift 5 % late (10.5 s for 10 s).
A sampled group also gets a sampling job per target, every sample interval; its group job
stores what was sampled. A target that is
down is logged once per outage and retried with full-jitter exponential backoff; its jobs
record a skipped run meanwhile (its sampling jobs skip silently).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collectors.core.config import Config, Target
from collectors.core.engine import Engine
from collectors.core.metric_groups import MetricGroup
from collectors.core.store import MetricStore, RunRecord

log = logging.getLogger(__name__)


def backoff_seconds(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(failures-1))]."""
    return rng.uniform(0, min(cap, base * 2 ** max(failures - 1, 0)))


def start_offset_seconds(target: str, group: str, interval: int) -> float:
    """A stable spread of first runs over the first interval (at most 10 s)."""
    return zlib.crc32(f"{target}/{group}".encode()) % (min(interval, 10) * 1000) / 1000


@dataclass
class TargetHealth:
    """Outage bookkeeping for one target, so it is logged once and retried with backoff."""

    name: str
    down_since: datetime | None = None
    failures: int = 0
    retry_at: datetime | None = None
    last_error: str | None = None

    def should_skip(self, now: datetime) -> bool:
        return self.retry_at is not None and now < self.retry_at


class TargetHealthBook:
    def __init__(self, base: float, cap: float, seed: int | None = None) -> None:
        self.base = base
        self.cap = cap
        self._rng = random.Random(seed)
        self._health: dict[str, TargetHealth] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> TargetHealth:
        with self._lock:
            return self._health.setdefault(name, TargetHealth(name))

    def record(self, record: RunRecord, now: datetime, unreachable: bool) -> None:
        health = self.get(record.target)
        with self._lock:
            if unreachable:
                health.failures += 1
                delay = backoff_seconds(health.failures, self.base, self.cap, self._rng)
                health.retry_at = now + timedelta(seconds=delay)
                if health.down_since is None:
                    health.down_since = now
                    log.error("%s; retrying with backoff (logged once per outage)", record.error)
                health.last_error = record.error
            elif health.down_since is not None:
                outage = (now - health.down_since).total_seconds()
                log.warning("target %s is reachable again after %.0f s", record.target, outage)
                health.down_since = None
                health.failures = 0
                health.retry_at = None


class Collector:
    """Runs groups for targets; shared by `collect --once` and the scheduled service."""

    def __init__(self, config: Config, groups: Iterable[MetricGroup], store: MetricStore) -> None:
        self.config = config
        self.groups = list(groups)
        self.store = store
        self.engine = Engine(config.collector, store)
        self.health = TargetHealthBook(config.collector.backoff_base_seconds,
                                       config.collector.backoff_cap_seconds)

    def interval(self, group: MetricGroup) -> int:
        return self.config.collector.intervals.get(group.name, group.interval_seconds)

    def collect(self, group: MetricGroup, target: Target) -> RunRecord:
        now = datetime.now(UTC)
        health = self.health.get(target.name)
        if health.should_skip(now):
            record = RunRecord(started_at=now, target=target.name, metric_group=group.name,
                               duration_ms=0.0, rows_written=0,
                               error=f"skipped: target down since "
                                     f"{health.down_since:%H:%M:%S} UTC ({health.last_error})")
            self.store.write([], record)
            return record
        record = self.engine.run(group, target)
        self.health.record(record, now, record.target_unreachable)
        if record.error and not record.target_unreachable:
            log.warning("%s", record.error)
        return record

    def sample(self, group: MetricGroup, target: Target) -> None:
        """One sample of a sampled group (skipped while the target is in backoff)."""
        if self.health.get(target.name).should_skip(datetime.now(UTC)):
            return
        self.engine.sample(group, target)

    def run_once(self, baseline_wait_seconds: float = 1.0) -> list[RunRecord]:
        """One run of every group on every target. Counter groups first take a baseline
        sample and wait `baseline_wait_seconds`, so even a single cycle writes deltas."""
        primed = [self.engine.prime(group, target) for target in self.config.targets
                  for group in self.groups if group.is_counter]
        if any(primed):
            time.sleep(baseline_wait_seconds)
        return [self.collect(group, target)
                for target in self.config.targets for group in self.groups]

    def maintain(self) -> None:
        try:
            dropped = self.store.maintain(datetime.now(UTC).date(),
                                          self.config.store.retention_days)
        except Exception as exc:  # maintenance must never stop collection
            log.error("store maintenance failed: %s", exc)
            return
        if dropped:
            log.info("retention: dropped %d partitions", len(dropped))

    def build_scheduler(self) -> BlockingScheduler:
        samplers = sum(1 for g in self.groups if g.is_sampled) * len(self.config.targets)
        workers = max(4, min(20, len(self.config.targets) * len(self.groups))) + samplers
        scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(workers)},
                                      timezone=UTC)
        now = datetime.now(UTC)
        for target in self.config.targets:
            for group in self.groups:
                interval = self.interval(group)
                scheduler.add_job(
                    self.collect, IntervalTrigger(seconds=interval),
                    args=[group, target], id=f"{target.name}/{group.name}",
                    name=f"{group.name} on {target.name}", max_instances=1, coalesce=True,
                    misfire_grace_time=interval,
                    next_run_time=now + timedelta(
                        seconds=start_offset_seconds(target.name, group.name, interval)),
                )
                if group.is_sampled and group.sample_interval_seconds:
                    scheduler.add_job(
                        self.sample, IntervalTrigger(seconds=group.sample_interval_seconds),
                        args=[group, target], id=f"{target.name}/{group.name}/sample",
                        name=f"{group.name} samples on {target.name}", max_instances=1,
                        coalesce=True, misfire_grace_time=group.sample_interval_seconds,
                        next_run_time=now)
        scheduler.add_job(self.maintain, IntervalTrigger(hours=1), id="store-maintenance",
                          max_instances=1, coalesce=True, next_run_time=now)
        return scheduler

    def close(self) -> None:
        self.engine.close()
