"""Helpers for the business-group tests: run groups until caught up, read what they stored."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from collectors.core.config import Config
from collectors.core.engine import Engine
from collectors.core.incremental import IncrementalSpec
from collectors.core.metric_groups import MetricGroup, load_catalog
from collectors.core.store import RunRecord
from tests.integration.collector_setup import confirming_store, make_config

BUSINESS_GROUPS = tuple(name for name, group in load_catalog().items()
                        if group.connection == "business")
INCREMENTAL_GROUPS = tuple(name for name in BUSINESS_GROUPS
                           if load_catalog()[name].incremental is not None)


def business_group(name: str, settle_seconds: int | None = None) -> MetricGroup:
    """The catalogue's group, optionally with another settle time (0: read up to now)."""
    group = load_catalog()[name]
    if settle_seconds is None or group.incremental is None:
        return group
    spec = dataclasses.replace(group.incremental, settle_seconds=settle_seconds)
    return dataclasses.replace(group, incremental=spec)


def business_config(store_dsn: str, monitoring_dsn: str, business_dsn: str) -> Config:
    return make_config(store_dsn, {"kasho": monitoring_dsn}, business={"kasho": business_dsn})


@contextmanager
def business_engine(config: Config) -> Iterator[Engine]:
    """An engine writing to the config's store: a collector process, from start to exit.
    Each run returns once its write was tried (`confirming_store`), so a test reads it."""
    store = confirming_store(config)
    engine = Engine(config.collector, store)
    try:
        yield engine
    finally:
        engine.close()
        store.close()


def run_until_caught_up(engine: Engine, config: Config, group: MetricGroup,
                        max_runs: int = 10) -> list[RunRecord]:
    """Run an incremental group until its window reaches the settled present."""
    records = []
    for _ in range(max_runs):
        record = engine.run(group, config.targets[0])
        assert record.error is None, record.error
        records.append(record)
        if not _behind(config, group):
            return records
    raise AssertionError(f"{group.name} still catching up after {max_runs} runs")


def _behind(config: Config, group: MetricGroup) -> bool:
    spec = group.incremental or IncrementalSpec()
    with psycopg.connect(config.store.dsn.reveal()) as conn:
        row = conn.execute(
            "SELECT max(watermark) < now() - make_interval(secs => %s) FROM "
            "kasho_ops.incremental_watermarks WHERE metric_group = %s",
            [spec.settle_seconds + 60, group.name]).fetchone()
    return bool(row and row[0])


def store_rows(store_dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()


def watermark_span(store_dsn: str, group: str) -> tuple[Any, Any]:
    """(first window's start, last watermark) of a group: what its stored rows cover."""
    row = store_rows(store_dsn, "SELECT min(window_start), max(watermark) FROM "
                                "kasho_ops.incremental_watermarks WHERE metric_group = %s",
                     [group])[0]
    return row[0], row[1]



HEALTH_GROUPS = ("database_stats", "lock_waits", "query_stats")


def collect_business_and_health(store_dsn: str, monitoring_dsn: str, business_dsn: str,
                                kasho_admin_dsn: str) -> None:
    """Fill a migrated store as a running collector would: every business group caught up,
    and the health groups the correlation view reads, with the payments' statements between
    their baseline and their deltas."""
    from collectors.core.scheduler import Collector

    config = business_config(store_dsn, monitoring_dsn, business_dsn)
    catalog = load_catalog()
    store = confirming_store(config)
    collector = Collector(config, [catalog[g] for g in (*BUSINESS_GROUPS, *HEALTH_GROUPS)],
                          store)
    try:
        assert [r.error for r in collector.run_once() if r.error] == []
        for name in INCREMENTAL_GROUPS:
            run_until_caught_up(collector.engine, config, catalog[name])
        with psycopg.connect(kasho_admin_dsn) as conn:
            for _ in range(20):
                conn.execute("SELECT count(*) FROM transactions WHERE status = 'pending'")
                conn.execute("SELECT balance FROM accounts ORDER BY id LIMIT 1")
        for group in HEALTH_GROUPS:  # deltas since run_once's baseline
            record = collector.collect(catalog[group], config.targets[0])
            assert record.error is None, record.error
    finally:
        collector.close()
        store.close()
