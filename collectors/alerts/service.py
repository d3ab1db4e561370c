"""On call inside the collector: alert evaluation after runs, notifications on a schedule, and
/metrics from memory.

`OnCall.attach(collector)` is called once per collector process: the /metrics cache and the
evaluator become engine observers (told once a run is stored; the cache first, so a scrape
sees the values an alert was evaluated on), the collector's jobs beside the groups (the
recovery states) call `after_recovery_run` alike, the evaluations and deliveries feed the alert
and notification metrics, and /metrics is served if `[metrics] listen` is set. `deliver`
sends what is due; the collector schedules it every few seconds (`add_jobs`) and
`collect --once` calls it before exiting.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer

import psycopg
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger
from psycopg_pool import PoolTimeout

from collectors.alerts.delivery import Delivery, Notifier, due_in
from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import load_rules
from collectors.backups.jobs import STATES_GROUP
from collectors.core.config import Config, Target
from collectors.core.connections import describe_error
from collectors.core.engine import GroupRows
from collectors.core.errors import ConfigError
from collectors.core.metric_groups import MetricGroup
from collectors.core.scheduler import Collector
from collectors.core.store import MetricStore, RunRecord
from collectors.exporters.prometheus import LatestValues, serve_metrics

log = logging.getLogger(__name__)


class OnCall:
    def __init__(self, config: Config, store: MetricStore, groups: Iterable[MetricGroup]) -> None:
        self.config = config
        intervals = {g.name: config.collector.intervals.get(g.name, g.interval_seconds)
                     for g in groups}
        # The recovery states the backups jobs judge (rules judged_by recovery_states).
        intervals[STATES_GROUP] = config.backups.states_interval_seconds
        self.rules = load_rules(config.alerts.rules, config.alerts.global_params)
        self.evaluator = Evaluator(config.alerts, store, intervals,
                                   config.dashboard.stale_after_intervals, self.rules)
        self.notifier = Notifier(config.alerts, store, self.rules)
        self.latest = LatestValues(lambda: store.points_dropped)
        self.evaluator.listeners.append(self.latest.observe_evaluation)
        self._metrics_server: ThreadingHTTPServer | None = None

    @classmethod
    def attach(cls, collector: Collector) -> OnCall:
        """Build it for a collector and hook it in; serve /metrics if configured. The
        recovery-states job calls `after_recovery_run` once it stored a run."""
        oncall = cls(collector.config, collector.store, collector.groups)
        collector.engine.observers += [oncall.latest.observe, oncall.observe]
        metrics = collector.config.metrics
        if metrics.enabled:
            assert metrics.host is not None
            try:
                oncall._metrics_server = serve_metrics(oncall.latest, metrics.host,
                                                       metrics.port)
            except OSError as exc:
                raise ConfigError(f"cannot serve /metrics on {metrics.host}:{metrics.port} "
                                  f"({exc.strerror}); choose a free port in [metrics] "
                                  "listen") from None
        return oncall

    def close(self) -> None:
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()

    def observe(self, group: MetricGroup, target: Target, result: GroupRows | None,
                record: RunRecord) -> None:
        self.evaluator.after_run(group.name, target.name, record)

    def after_recovery_run(self, record: RunRecord) -> None:
        """The backups jobs' hook: evaluate the rules reading the recovery states stored."""
        self.evaluator.after_run(record.metric_group, record.target, record)

    def deliver(self) -> list[Delivery]:
        """Send what is due; never raises (a store or network failure is logged)."""
        try:
            deliveries = self.notifier.deliver_due()
            self.latest.observe_deliveries(deliveries)
            return deliveries
        except (psycopg.Error, PoolTimeout) as exc:
            reason = describe_error(exc) if isinstance(exc, psycopg.Error) else str(exc)
            log.warning("notifications not delivered this time: the store failed (%s)", reason)
        except Exception:
            log.exception("notification delivery failed")
        return []

    def add_jobs(self, scheduler: BaseScheduler) -> None:
        if not self.config.alerts.enabled or not self.config.alerts.webhooks:
            return
        scheduler.add_job(self.deliver, IntervalTrigger(
            seconds=due_in(self.config.alerts).total_seconds()), id="alert-notifications",
            name="alert notifications", max_instances=1, coalesce=True,
            next_run_time=datetime.now(UTC))
