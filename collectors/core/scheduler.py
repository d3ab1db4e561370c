"""Run every metric group against every target on its interval (APScheduler 3).

One job per (target, group): max_instances=1 so a slow run is never doubled, coalesce so a
backlog collapses into one run, and a stable per-job start offset so targets do not all fire
at once. No per-run jitter: APScheduler adds it to the fire time the next run counts from,
so a jitter of a tenth of the interval made every group drift 5 % late (10.5 s for 10 s).
A sampled group also gets a sampling job per target, every sample interval; its group job
stores what was sampled. A target that is down is logged once per outage and retried with
full-jitter exponential backoff; its jobs record a skipped run meanwhile (its sampling jobs
skip silently). The scheduled service collects only the targets whose lease it holds
(leases.py), so several collectors can share the targets; each run records its collector
and how late it started.
"""

from __future__ import annotations

import logging
import random
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collectors.core.config import Config, Target
from collectors.core.engine import Engine
from collectors.core.leases import LeaseKeeper, new_collector_id
from collectors.core.metric_groups import MetricGroup
from collectors.core.store import MetricStore, RunRecord

log = logging.getLogger(__name__)


def backoff_seconds(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(failures-1))]."""
    return rng.uniform(0, min(cap, base * 2 ** max(failures - 1, 0)))


def collection_trigger(interval_seconds: int) -> IntervalTrigger:
    """Every `interval_seconds`, exactly: no jitter (APScheduler would add it to the time the
    next run counts from, and the runs would drift late by half the jitter each time)."""
    return IntervalTrigger(seconds=interval_seconds)


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

    def __init__(self, config: Config, groups: Iterable[MetricGroup], store: MetricStore,
                 collector_id: str | None = None) -> None:
        self.config = config
        self.groups = list(groups)
        self.store = store
        self.collector_id = collector_id or new_collector_id()
        self.engine = Engine(config.collector, store, self.collector_id)
        self.leases: LeaseKeeper | None = None  # the scheduled service's; --once ignores them
        self._scheduled_at: dict[str, datetime] = {}
        self.health = TargetHealthBook(config.collector.backoff_base_seconds,
                                       config.collector.backoff_cap_seconds)

    def groups_for(self, target: Target) -> list[MetricGroup]:
        """The groups that read this kind of target (postgres or pgbouncer)."""
        return [g for g in self.groups if g.target_kind == target.kind]

    def interval(self, group: MetricGroup) -> int:
        return self.config.collector.intervals.get(group.name, group.interval_seconds)

    def collect_scheduled(self, group: MetricGroup, target: Target) -> RunRecord | None:
        """A scheduled run: only while this collector holds the target's lease."""
        if self.leases is not None and not self.leases.holds(target.name):
            return None
        scheduled = self._scheduled_at.get(f"{target.name}/{group.name}")
        lateness_ms = (max((datetime.now(UTC) - scheduled).total_seconds(), 0.0) * 1000
                       if scheduled is not None else None)
        return self.collect(group, target, lateness_ms)

    def _remember_schedule(self, event: JobSubmissionEvent) -> None:
        if event.scheduled_run_times:
            self._scheduled_at[event.job_id] = max(event.scheduled_run_times)

    def renew_leases(self) -> None:
        if self.leases is None:
            return
        acquired, lost = self.leases.renew()
        for target in acquired:
            self.engine.forget_target(target)  # its last samples are the previous holder's
        for target in lost:
            self.engine.close_target(target)  # another collector's now: free its sessions

    def collect(self, group: MetricGroup, target: Target,
                lateness_ms: float | None = None) -> RunRecord:
        now = datetime.now(UTC)
        health = self.health.get(target.name)
        if health.should_skip(now):
            record = RunRecord(started_at=now, target=target.name, metric_group=group.name,
                               duration_ms=0.0, rows_written=0,
                               error=f"skipped: target down since "
                                     f"{health.down_since:%H:%M:%S} UTC ({health.last_error})")
            self.store.write([], record)
            return record
        record = self.engine.run(group, target, lateness_ms)
        self.health.record(record, now, record.target_unreachable)
        if record.error and not record.target_unreachable:
            log.warning("%s", record.error)
        return record

    def sample(self, group: MetricGroup, target: Target) -> None:
        """One sample of a sampled group: only while this collector holds the target's lease,
        and not while the target is in backoff."""
        if self.leases is not None and not self.leases.holds(target.name):
            return
        if self.health.get(target.name).should_skip(datetime.now(UTC)):
            return
        self.engine.sample(group, target)

    def run_once(self) -> list[RunRecord]:
        """One run of every group on every target. Counter groups continue from their
        stored baselines, so `collect --once` from cron stores every interval; a first-ever
        run takes the baseline and says so."""
        return [self.collect(group, target)
                for target in self.config.targets for group in self.groups_for(target)]

    def maintain(self) -> None:
        try:
            result = self.store.maintain(datetime.now(UTC).date(),
                                         self.config.store.retention_for)
        except Exception as exc:  # maintenance must never stop collection
            log.error("store maintenance failed: %s", exc)
            return
        if result is None:
            log.info("store maintenance: another collector is at it")
        elif result.dropped_partitions or result.pruned_texts:
            log.info("retention: dropped %d partitions, pruned %d statement texts",
                     len(result.dropped_partitions), result.pruned_texts)

    def build_scheduler(self) -> BlockingScheduler:
        samplers = sum(1 for g in self.groups if g.is_sampled) * len(self.config.targets)
        workers = max(4, min(20, len(self.config.targets) * len(self.groups))) + samplers
        scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(workers)},
                                      timezone=UTC)
        scheduler.add_listener(self._remember_schedule, EVENT_JOB_SUBMITTED)
        self.leases = LeaseKeeper(self.store.connection, [t.name for t in self.config.targets],
                                  self.config.collector.lease_seconds, self.collector_id)
        self.renew_leases()  # before the first collection
        now = datetime.now(UTC)
        for target in self.config.targets:
            for group in self.groups_for(target):
                interval = self.interval(group)
                scheduler.add_job(
                    self.collect_scheduled, collection_trigger(interval),
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
        scheduler.add_job(self.renew_leases,
                          IntervalTrigger(seconds=self.leases.renew_every_seconds),
                          id="leases", max_instances=1, coalesce=True)
        scheduler.add_job(self.maintain, IntervalTrigger(hours=1), id="store-maintenance",
                          max_instances=1, coalesce=True, next_run_time=now)
        return scheduler

    def close(self) -> None:
        if self.leases is not None:
            self.leases.release()
        self.engine.close()
