"""Run every metric group against every target on its interval (APScheduler 3).

One job per (target, group): max_instances=1 so a slow run is never doubled, coalesce so a
backlog collapses into one run, and a stable per-job start offset so targets do not all fire
at once. No per-run jitter: APScheduler adds it to the fire time the next run counts from,
so a jitter of a tenth of the interval made every group drift 5 % late (10.5 s for 10 s).
A sampled group also gets a sampling job per target, every sample interval; its group job
stores what was sampled. A target that is down is logged once when the outage starts and
once when it ends ("reachable again after 2 min 10 s", with the skipped runs counted); while
it is down one run at a time retries it, with full-jitter exponential backoff, and the other
runs record a skipped run without touching the server (its sampling jobs skip silently). No
run ever raises: a bug in a run is recorded as that run's error and logged once. The
scheduled service collects only the targets whose lease it holds (leases.py), so several
collectors can share the targets; each run records its collector and how late it started.
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

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobSubmissionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collectors.core.config import Config, Target
from collectors.core.connections import describe_error
from collectors.core.durations import format_duration
from collectors.core.engine import Engine
from collectors.core.leases import LeaseKeeper, new_collector_id
from collectors.core.metric_groups import MetricGroup
from collectors.core.store import MetricStore, RunRecord

log = logging.getLogger(__name__)


def backoff_seconds(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(failures-1))]."""
    return rng.uniform(0, min(cap, base * 2 ** max(failures - 1, 0)))


def job_id(target: str, group: str) -> str:
    return f"{target}/{group}"


def collection_trigger(interval_seconds: int) -> IntervalTrigger:
    """Every `interval_seconds`, exactly: no jitter (APScheduler would add it to the time the
    next run counts from, and the runs would drift late by half the jitter each time)."""
    return IntervalTrigger(seconds=interval_seconds)


def start_offset_seconds(target: str, group: str, interval: int) -> float:
    """A stable spread of first runs over the first interval (at most 10 s)."""
    return zlib.crc32(f"{target}/{group}".encode()) % (min(interval, 10) * 1000) / 1000


@dataclass
class TargetHealth:
    """Outage bookkeeping for one target: a circuit breaker with full-jitter backoff.

    While a target is down, one run at a time probes it, and only once its retry time has
    come; every other run is skipped (and counted) without touching the server. Times are
    monotonic and taken when a run ends, so a run that itself took long never leaves a retry
    time already in the past."""

    name: str
    down_since: float | None = None  # monotonic
    down_since_utc: datetime | None = None
    failures: int = 0
    retry_at: float = 0.0  # monotonic
    probing: bool = False
    skipped: int = 0
    last_error: str | None = None

    @property
    def is_down(self) -> bool:
        return self.down_since is not None


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

    def admit(self, name: str, now: float) -> bool | None:
        """May a run go to the server? True: yes, as the probe of a down target; False: yes,
        the target is up; None: no, skip it (the target is down and not due for a retry,
        or another run is probing it now)."""
        with self._lock:
            health = self._health.setdefault(name, TargetHealth(name))
            if not health.is_down:
                return False
            if health.probing or now < health.retry_at:
                health.skipped += 1
                return None
            health.probing = True
            return True

    def count_skips(self, name: str, runs: int) -> None:
        """Count runs skipped for another reason in the outage's summary."""
        with self._lock:
            self._health.setdefault(name, TargetHealth(name)).skipped += runs

    def record(self, name: str, error: str | None, unreachable: bool, probe: bool,
               now: float) -> None:
        """What a run found; `now` is when it ended (monotonic)."""
        with self._lock:
            health = self._health.setdefault(name, TargetHealth(name))
            if probe:
                health.probing = False
            if unreachable:
                health.last_error = error
                if health.is_down and not probe:
                    return  # a run admitted before the outage began: the same outage
                health.failures += 1
                delay = backoff_seconds(health.failures, self.base, self.cap, self._rng)
                health.retry_at = now + delay
                if not health.is_down:
                    health.down_since = now
                    health.down_since_utc = datetime.now(UTC)
                    health.skipped = 0
                    log.error("%s; retrying with backoff (one line per outage, another when it "
                              "ends)", error)
            elif probe and health.is_down:
                assert health.down_since is not None
                log.warning("target %s is reachable again after %s (%d failed attempts, %d runs "
                            "skipped)", name, format_duration(now - health.down_since),
                            health.failures, health.skipped)
                health.down_since = health.down_since_utc = None
                health.failures = 0
                health.retry_at = 0.0
                health.skipped = 0


class _NoOverlapWarnings(logging.Filter):
    """APScheduler logs a warning for every run it skips because the job's previous run is
    still going; the Collector counts those (EVENT_JOB_MAX_INSTANCES) and summarises them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


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
        self._internal_errors_logged: set[str] = set()
        self._overlaps: dict[str, int] = {}  # job id -> runs skipped while it still ran
        self._overlaps_lock = threading.Lock()
        self._failing: dict[str, tuple[str, int]] = {}  # job id -> (error, failed runs)

    def groups_for(self, target: Target) -> list[MetricGroup]:
        """The groups that read this kind of target (postgres or pgbouncer); the business
        groups only for a target with a business_dsn."""
        return [g for g in self.groups if g.target_kind == target.kind
                and (g.connection != "business" or target.business_dsn is not None)]

    def pairs(self) -> list[tuple[Target, MetricGroup]]:
        """Every (target, group) to collect; a target without business_dsn says once which
        business groups it skips."""
        for target in self.config.targets:
            skipped = [g.name for g in self.groups
                       if g.connection == "business" and target.business_dsn is None
                       and g.target_kind == target.kind]
            if skipped:
                log.info("target %s has no business_dsn: not collecting %s", target.name,
                         ", ".join(skipped))
        return [(target, group) for target in self.config.targets
                for group in self.groups_for(target)]

    def interval(self, group: MetricGroup) -> int:
        return self.config.collector.intervals.get(group.name, group.interval_seconds)

    def collect_scheduled(self, group: MetricGroup, target: Target) -> RunRecord | None:
        """A scheduled run: only while this collector holds the target's lease."""
        if self.leases is not None and not self.leases.holds(target.name):
            return None
        scheduled = self._scheduled_at.get(job_id(target.name, group.name))
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
        """One run of one group on one target; never raises."""
        probe = self.health.admit(target.name, time.monotonic())
        if probe is None:
            health = self.health.get(target.name)
            since = health.down_since_utc or datetime.now(UTC)
            record = RunRecord(started_at=datetime.now(UTC), target=target.name,
                               metric_group=group.name, duration_ms=0.0, rows_written=0,
                               error=f"skipped: target down since {since:%H:%M:%S} UTC "
                                     f"({health.last_error})",
                               collector_id=self.collector_id, lateness_ms=lateness_ms)
            self.store.write([], record)
            return record
        try:
            record = self.engine.run(group, target, lateness_ms)
        except Exception as exc:  # a bug: it is recorded and logged, and collection goes on
            record = self._internal_error(group, target, exc)
        self.health.record(target.name, record.error, record.target_unreachable, probe,
                           time.monotonic())
        self._log_failure(group, target, record)
        with self._overlaps_lock:
            overlapped = self._overlaps.pop(job_id(target.name, group.name), 0)
        if overlapped and record.target_unreachable:
            self.health.count_skips(target.name, overlapped)  # in the outage's summary
        elif overlapped:
            log.warning("%s on %s took %.1f s, longer than its %d s interval: %d runs were "
                        "skipped meanwhile", group.name, target.name, record.duration_ms / 1000,
                        self.interval(group), overlapped)
        return record

    def _log_failure(self, group: MetricGroup, target: Target, record: RunRecord) -> None:
        """A run's error (other than the target being down, which the health book logs),
        once while it repeats unchanged, and one line when the group works again."""
        key = job_id(target.name, group.name)
        with self._overlaps_lock:
            previous, repeats = self._failing.get(key, (None, 0))
            if record.error and not record.target_unreachable:
                self._failing[key] = (record.error, repeats + 1)
            else:
                self._failing.pop(key, None)
        if record.error and not record.target_unreachable and record.error != previous:
            log.warning("%s (logged once while it repeats)", record.error)
        elif not record.error and previous is not None:
            log.info("%s on %s works again after %d failed runs", group.name, target.name,
                     repeats)

    def _skipped_overlapping(self, event: JobSubmissionEvent) -> None:
        """Count a run not started because the job's previous run is still going; the
        summary comes when that run ends (APScheduler's own line per skip is filtered)."""
        if event.job_id.endswith("/sample"):
            return  # a sample a second late is simply not taken; its window says how many
        with self._overlaps_lock:
            self._overlaps[event.job_id] = self._overlaps.get(event.job_id, 0) + 1

    def _internal_error(self, group: MetricGroup, target: Target, exc: Exception) -> RunRecord:
        error = f"{group.name} on {target.name}: internal error: {type(exc).__name__}: " \
                f"{describe_error(exc)}"
        if error not in self._internal_errors_logged:  # the traceback once, for the bug report
            self._internal_errors_logged.add(error)
            log.error("%s (please report this; logged once)", error, exc_info=exc)
        record = RunRecord(started_at=datetime.now(UTC), target=target.name,
                           metric_group=group.name, duration_ms=0.0, rows_written=0, error=error,
                           collector_id=self.collector_id)
        self.store.write([], record)
        return record

    def sample(self, group: MetricGroup, target: Target) -> None:
        """One sample of a sampled group: only while this collector holds the target's lease,
        and not while the target is in backoff."""
        if self.leases is not None and not self.leases.holds(target.name):
            return
        if self.health.get(target.name).is_down:
            return  # the group job's probe finds out when it is back
        self.engine.sample(group, target)

    def run_once(self) -> list[RunRecord]:
        """One run of every group on every target. Counter groups continue from their
        stored baselines, so `collect --once` from cron stores every interval; a first-ever
        run takes the baseline and says so."""
        return [self.collect(group, target) for target, group in self.pairs()]

    def maintain(self) -> None:
        try:
            result = self.store.maintain(datetime.now(UTC).date(),
                                         self.config.store.retention_for)
        except Exception as exc:  # maintenance must never stop collection
            log.error("store maintenance failed: %s", describe_error(exc))
            return
        if result is None:
            log.info("store maintenance: another collector is at it")
        elif result.dropped_partitions or result.pruned_texts:
            log.info("retention: dropped %d partitions, pruned %d statement texts",
                     len(result.dropped_partitions), result.pruned_texts)

    def build_scheduler(self) -> BlockingScheduler:
        pairs = self.pairs()
        samplers = sum(1 for _target, group in pairs if group.is_sampled)
        workers = max(4, min(20, len(pairs))) + samplers
        scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(workers)},
                                      timezone=UTC)
        apscheduler_log = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, _NoOverlapWarnings) for f in apscheduler_log.filters):
            apscheduler_log.addFilter(_NoOverlapWarnings())
        scheduler.add_listener(self._skipped_overlapping, EVENT_JOB_MAX_INSTANCES)
        scheduler.add_listener(self._remember_schedule, EVENT_JOB_SUBMITTED)
        self.leases = LeaseKeeper(self.store.connection, [t.name for t in self.config.targets],
                                  self.config.collector.lease_seconds, self.collector_id)
        self.renew_leases()  # before the first collection
        now = datetime.now(UTC)
        for target, group in pairs:
            interval = self.interval(group)
            scheduler.add_job(
                self.collect_scheduled, collection_trigger(interval),
                args=[group, target], id=job_id(target.name, group.name),
                name=f"{group.name} on {target.name}", max_instances=1, coalesce=True,
                misfire_grace_time=interval,
                next_run_time=now + timedelta(
                    seconds=start_offset_seconds(target.name, group.name, interval)),
            )
            if group.is_sampled and group.sample_interval_seconds:
                scheduler.add_job(
                    self.sample, IntervalTrigger(seconds=group.sample_interval_seconds),
                    args=[group, target], id=f"{job_id(target.name, group.name)}/sample",
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
