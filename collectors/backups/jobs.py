"""The collector's backup jobs, beside the metric groups' own: per postgres target,
pgBackRest info every `pgbackrest_interval_seconds` (targets with a stanza), the recovery
states every `states_interval_seconds`, and a restore drill every `drill_interval_hours` when
set. Like the groups, a scheduled job runs only while this collector holds the target's lease
(several collectors share the targets). `collect --once` runs the first two once, after the
metric groups. Each evaluation of the states is followed by the alert rules that read them
(`after`, the on-call evaluator: rules judged_by recovery_states in
collectors/alerts/rules.toml).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.interval import IntervalTrigger

from collectors.backups.collect import PGBACKREST_GROUP, collect_pgbackrest
from collectors.backups.drill import record_drill, run_drill
from collectors.backups.facts import read_target_facts
from collectors.backups.states import evaluate
from collectors.core.config import Config, Target
from collectors.core.connections import describe_error
from collectors.core.errors import KashoOpsError
from collectors.core.scheduler import start_offset_seconds
from collectors.core.store import Batch, MetricStore, RunRecord

STATES_GROUP = "recovery_states"
STATE_COLUMNS = ("collected_at", "target", "state", "severity", "value", "threshold", "message")
log = logging.getLogger(__name__)


def store_recovery_states(store: MetricStore, config: Config, target: Target,
                          after: Callable[[RunRecord], None] | None = None) -> RunRecord:
    """Evaluate the target's recovery states from the store and write them back to it;
    then `after(record)` (the alert rules that read them)."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    batches: list[Batch] = []
    error: str | None = None
    try:
        with store.connection() as conn:
            facts = read_target_facts(conn, target.name, target.pgbackrest is not None,
                                      config.backups.pgbackrest_interval_seconds)
        states = evaluate(facts, config.backups)
        rows = tuple((started_at, target.name, s.state, s.severity, s.value, s.threshold,
                      s.message) for s in states)
        batches = [Batch(STATES_GROUP, STATE_COLUMNS, rows, started_at.date())]
    except psycopg.Error as exc:
        error = f"{STATES_GROUP} on {target.name}: cannot read the store: {describe_error(exc)}"
    record = RunRecord(started_at=started_at, target=target.name, metric_group=STATES_GROUP,
                       duration_ms=(time.perf_counter() - clock) * 1000,
                       rows_written=sum(len(b.rows) for b in batches), error=error)
    store.write(batches, record)
    if after is not None:
        after(record)
    return record


def scheduled_drill(config: Config, target: Target) -> None:
    try:
        result = run_drill(config, target, None, trigger="schedule")
        record_drill(config.store.dsn, result)
    except KashoOpsError as exc:
        log.error("scheduled restore drill of %s: %s", target.name, exc)
        return
    log.log(logging.INFO if result.outcome == "passed" else logging.ERROR,
            "scheduled restore drill of %s %s in %.0f s%s", target.name, result.outcome,
            result.duration_seconds, f": {result.error}" if result.error else "")


def servers(config: Config) -> list[Target]:
    """The targets that are PostgreSQL servers (a PgBouncer has no backups or replication)."""
    return [target for target in config.targets if target.kind == "postgres"]


def run_recovery_jobs_once(store: MetricStore, config: Config,
                           after: Callable[[RunRecord], None] | None = None) -> list[RunRecord]:
    records = [collect_pgbackrest(store, target) for target in servers(config)
               if target.pgbackrest is not None]
    records += [store_recovery_states(store, config, target, after)
                for target in servers(config)]
    return records


def add_recovery_jobs(scheduler: BaseScheduler, store: MetricStore, config: Config,
                      holds_lease: Callable[[str], bool],
                      after: Callable[[RunRecord], None] | None = None) -> None:
    now = datetime.now(UTC)
    settings = config.backups

    def add(name: str, target: Target, function: Callable[..., object], args: list[object],
            seconds: int) -> None:
        def run_if_held() -> None:
            if holds_lease(target.name):
                function(*args)

        scheduler.add_job(
            run_if_held, IntervalTrigger(seconds=seconds, jitter=min(seconds / 10, 5)),
            id=f"{target.name}/{name}", name=f"{name} on {target.name}",
            max_instances=1, coalesce=True, misfire_grace_time=seconds,
            next_run_time=now + timedelta(
                seconds=start_offset_seconds(target.name, name, seconds)))

    for target in servers(config):
        add(STATES_GROUP, target, store_recovery_states, [store, config, target, after],
            settings.states_interval_seconds)
        if target.pgbackrest is None:
            continue
        add(PGBACKREST_GROUP, target, collect_pgbackrest, [store, target],
            settings.pgbackrest_interval_seconds)
        if settings.drill_interval_hours > 0:
            def drill_if_held(target: Target = target) -> None:
                if holds_lease(target.name):
                    scheduled_drill(config, target)

            scheduler.add_job(
                drill_if_held, IntervalTrigger(hours=settings.drill_interval_hours),
                id=f"{target.name}/restore-drill", name=f"restore drill of {target.name}",
                max_instances=1, coalesce=True)
