"""Active session sampling (the sampled group active_sessions) against real sessions: what
the store holds after a window of samples, exactly."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from collectors.core.scheduler import Collector
from demo.cluster import LocalCluster
from tests.integration.activity_setup import wait_for_session
from tests.integration.collector_setup import make_config, monitor_dsn, open_collector
from tests.pg import held_sessions


@pytest.fixture
def ash_collector(pg_cluster: LocalCluster, fresh_database: str,
                  fresh_store: str) -> Iterator[Collector]:
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster, fresh_database)})
    collector = open_collector(config, ["active_sessions"])
    yield collector
    collector.close()
    collector.store.close()


def stored(store_dsn: str) -> list[tuple[object, ...]]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(
            "SELECT datname, application_name, wait_event_type, wait_event, queryid <> 0,"
            " samples, sessions FROM kasho_ops.active_sessions"
            " WHERE application_name LIKE 'ash-%' ORDER BY application_name").fetchall()


def test_a_window_of_samples_stores_average_active_sessions_by_wait_event(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        ash_collector: Collector) -> None:
    group = ash_collector.groups[0]
    target = ash_collector.config.targets[0]
    dsn = pg_cluster.dsn(fresh_database)
    with held_sessions(dsn, 3) as (sleeper, idle, late):
        sleeper.conn.execute("SET application_name = 'ash-sleeper'")
        late.conn.execute("SET application_name = 'ash-late'")
        idle.conn.execute("SET application_name = 'ash-idle'")
        sleeper.execute_in_background("SELECT pg_sleep(60)")
        wait_for_session(pg_cluster.dsn(), sleeper.pid, state="active",
                         wait_event_type="Timeout")
        for _ in range(3):  # the sleeper alone: 3 samples
            assert ash_collector.engine.sample(group, target)
        late.execute_in_background("SELECT pg_sleep(60)")
        wait_for_session(pg_cluster.dsn(), late.pid, state="active", wait_event_type="Timeout")
        assert ash_collector.engine.sample(group, target)  # both: 1 sample of 4
        record = ash_collector.collect(group, target)
    assert record.error is None, record.error
    # Present in 4 of 4 samples: 1.0; in 1 of 4: 0.25. The idle session is never counted.
    assert stored(fresh_store) == [
        (fresh_database, "ash-late", "Timeout", "PgSleep", True, 4, 0.25),
        (fresh_database, "ash-sleeper", "Timeout", "PgSleep", True, 4, 1.0),
    ]
    with psycopg.connect(fresh_store) as conn:
        interval, runs = conn.execute(
            "SELECT max(interval_seconds), (SELECT count(*) FROM kasho_ops.collector_runs"
            " WHERE metric_group = 'active_sessions' AND error IS NULL)"
            " FROM kasho_ops.active_sessions").fetchone()
    assert interval > 0
    assert runs == 1


def test_a_window_without_active_sessions_is_a_successful_run_of_no_rows(
        fresh_store: str, ash_collector: Collector) -> None:
    group = ash_collector.groups[0]
    target = ash_collector.config.targets[0]
    record = ash_collector.collect(group, target)  # no sampler ran: one sample is taken
    assert record.error is None
    with psycopg.connect(fresh_store) as conn:
        rows = conn.execute("SELECT count(*) FROM kasho_ops.active_sessions"
                            " WHERE application_name LIKE 'ash-%'").fetchone()
    assert rows == (0,)


@pytest.mark.single_major  # no server answers: nothing of a major to read
def test_failed_samples_are_reported_by_the_window_run(fresh_store: str) -> None:
    config = make_config(fresh_store, {"gone": "host=127.0.0.1 port=1 dbname=x user=y "
                                               "connect_timeout=2"})
    collector = open_collector(config, ["active_sessions"])
    try:
        group, target = collector.groups[0], config.targets[0]
        assert not collector.engine.sample(group, target)
        record = collector.engine.run(group, target)
    finally:
        collector.close()
        collector.store.close()
    assert record.error is not None
    assert record.error.startswith("all 1 samples failed; last error: target gone: "
                                   "cannot connect")
    assert record.rows_written == 0
