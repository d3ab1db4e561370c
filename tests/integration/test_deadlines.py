"""Client-side deadlines on a real cluster frozen with SIGSTOP, and on a listener that never
answers: every round trip ends in one short error, never a held worker or a hung page.

Durations are printed (pytest -s) for the record; the assertions bound them only against a
hang (a generous FINISHES_WITHIN), and check the error each caller gets."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from collectors.actions.explain import ExplainFailed, explain
from collectors.actions.signal import ActionRequest, perform
from collectors.core.access import Actor
from collectors.core.config import Config, parse_config
from collectors.core.engine import Engine
from collectors.core.errors import TargetUnavailable
from collectors.core.metric_groups import MetricGroup, load_catalog
from collectors.core.store import RunRecord
from collectors.live.activity import LiveActivity
from demo.cluster import LocalCluster
from tests.faults import GatedProxy, frozen
from tests.integration.collector_setup import open_collector
from tests.pg import HeldSession, free_port

pytestmark = pytest.mark.single_major  # client-side deadlines, whatever the major
T = TypeVar("T")
# Far above every deadline below, far below "for ever": only a hang exceeds it.
FINISHES_WITHIN = 45.0
STATEMENT_TIMEOUT_MS = 2000  # deadline 3 s
CONNECT_TIMEOUT_SECONDS = 2


def finishes(call: Callable[[], T], within: float = FINISHES_WITHIN) -> tuple[T, float]:
    """call() in a thread; its result and how long it took, or a failure if it hangs."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(within)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"still waiting after {within:.0f} s: no client-side deadline"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["result"], elapsed  # type: ignore[return-value]


@pytest.fixture(scope="module")
def freezable() -> Iterator[LocalCluster]:
    """A cluster of its own: the session's shared one must never be stopped."""
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-frozen-"))
    cluster = LocalCluster(base, free_port())
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon")
        conn.execute("CREATE ROLE act LOGIN; GRANT pg_signal_backend, pg_read_all_stats TO act")
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


def frozen_config(store_dsn: str, target_dsn: str, actions_dsn: str | None = None,
                  **collector: object) -> Config:
    target: dict[str, object] = {"name": "frozen", "dsn": target_dsn}
    if actions_dsn:
        target["actions_dsn"] = actions_dsn
    raw = {"store": {"dsn": store_dsn}, "targets": [target],
           "collector": {"statement_timeout_ms": STATEMENT_TIMEOUT_MS,
                         "connect_timeout_seconds": CONNECT_TIMEOUT_SECONDS,
                         "backoff_base_seconds": 30.0, "backoff_cap_seconds": 60.0,
                         **collector},
           "dashboard": {"actions_enabled": True}}
    return parse_config(raw, environ={}, known_groups=set(load_catalog()))


def wait_for_query(cluster: LocalCluster, needle: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        while time.monotonic() < deadline:
            found = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE %s AND pid <> pg_backend_pid()", [f"%{needle}%"]).fetchone()
            if found and found[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"{needle!r} never ran")


SLOW_GROUP = MetricGroup(
    name="slow_probe", description="a read that is still running when the server freezes",
    interval_seconds=60, kind="gauge", keys=(), unit="", requires="pg_monitor",
    timeout_ms=5000, sql_by_major=((13, "SELECT 1 AS one FROM pg_sleep(4) /* slow_probe */"),))


def test_a_target_frozen_mid_query_costs_one_short_error(
        freezable: LocalCluster, store_dsn: str) -> None:
    config = frozen_config(store_dsn, freezable.dsn("postgres", "mon"))
    engine = Engine(config.collector, None)
    target = config.targets[0]
    outcome: dict[str, RunRecord] = {}
    runner = threading.Thread(target=lambda: outcome.update(record=engine.run(SLOW_GROUP,
                                                                              target)),
                              daemon=True)
    try:
        runner.start()
        wait_for_query(freezable, "slow_probe")  # frozen mid-query: the hard case
        with frozen(freezable):
            frozen_at = time.monotonic()
            runner.join(FINISHES_WITHIN)
            seconds = time.monotonic() - frozen_at
            assert not runner.is_alive(), "the run is still waiting: no client-side deadline"
        record = outcome["record"]
        print(f"\nfrozen mid-query: the run ended {seconds:.1f} s after the freeze "
              f"(deadline 5 s + 1 s from its start): {record.error}")
        assert record.error == "target frozen: no answer from the server in 6 s"
        assert record.target_unreachable
    finally:
        engine.close()


def test_a_frozen_target_is_probed_once_and_then_skipped_until_its_retry_time(
        freezable: LocalCluster, fresh_store: str) -> None:
    config = frozen_config(fresh_store, freezable.dsn("postgres", "mon"))
    collector = open_collector(config, ["connections", "connection_limits"])
    connections, limits = collector.groups
    target = config.targets[0]
    try:
        assert collector.collect(connections, target).error is None  # a warm pooled session
        with frozen(freezable):
            first, first_seconds = finishes(lambda: collector.collect(connections, target))
            second, second_seconds = finishes(lambda: collector.collect(limits, target))
        print(f"\nfrozen target: first run {first_seconds:.1f} s ({first.error}); "
              f"next run {second_seconds:.2f} s ({second.error})")
        # The pooled session is checked before use: an empty query gets connect_timeout.
        assert first.error == "target frozen: no answer from the server in 2 s"
        assert second.error is not None
        assert second.error.startswith("skipped: target down since ")
        assert second.error.endswith("(target frozen: no answer from the server in 2 s)")
    finally:
        collector.close()
        collector.store.close()


def test_a_listener_that_never_answers_costs_connect_timeout(fresh_store: str) -> None:
    blackhole = GatedProxy()
    config = frozen_config(fresh_store, f"host=127.0.0.1 port={blackhole.port} user=mon "
                                        "dbname=postgres")
    collector = open_collector(config, ["connections"])
    try:
        record, seconds = finishes(lambda: collector.collect(collector.groups[0],
                                                             config.targets[0]))
        print(f"\nblackhole: run ended after {seconds:.1f} s: {record.error}")
        assert record.error == "target frozen: no answer from the server in 2 s (connecting)"
        assert blackhole.accepted >= 1
    finally:
        collector.close()
        collector.store.close()
        blackhole.close()


def test_live_activity_answers_no_answer_within_seconds(freezable: LocalCluster,
                                                        store_dsn: str) -> None:
    config = frozen_config(store_dsn, freezable.dsn("postgres", "mon"),
                           statement_timeout_ms=5000, connect_timeout_seconds=5)
    warm, cold = LiveActivity(config.collector), LiveActivity(config.collector)
    target = config.targets[0]
    try:
        assert warm.snapshot(target).sessions is not None
        with frozen(freezable):
            with pytest.raises(TargetUnavailable) as pooled:
                finishes(lambda: warm.snapshot(target))
            started = time.monotonic()
            with pytest.raises(TargetUnavailable) as connecting:
                finishes(lambda: cold.snapshot(target))
            cold_seconds = time.monotonic() - started
        print(f"\nlive view, frozen server: {pooled.value} / {connecting.value} "
              f"(cold: {cold_seconds:.1f} s)")
        # A live page waits 3 s, however long the collector's own limits are.
        assert str(pooled.value) == "target frozen: no answer from the server in 3 s"
        assert str(connecting.value) == ("target frozen: no answer from the server in 3 s "
                                         "(connecting)")
        assert warm.snapshot(target).sessions is not None  # and recovers once it answers
    finally:
        warm.close()
        cold.close()


def test_explain_answers_no_answer_when_the_target_is_frozen(
        freezable: LocalCluster, store_dsn: str) -> None:
    config = frozen_config(store_dsn, freezable.dsn("postgres", "mon"))
    target = config.targets[0]
    with frozen(freezable), pytest.raises(ExplainFailed) as failed:
        finishes(lambda: explain(target, config.collector, "postgres", "SELECT 1"))
    assert str(failed.value) == ("EXPLAIN failed: no answer from the server in 2 s "
                                 "(connecting)")


def test_cancel_answers_no_answer_when_the_target_is_frozen(
        freezable: LocalCluster, store_dsn: str) -> None:
    config = frozen_config(store_dsn, freezable.dsn("postgres", "mon"),
                           actions_dsn=freezable.dsn("postgres", "act"))
    victim = HeldSession(freezable.dsn())
    try:
        with frozen(freezable):
            result, seconds = finishes(lambda: perform(
                ActionRequest("cancel", "frozen", victim.pid,
                              Actor("dba@kasho.example", "admin")), config))
        print(f"\ncancel on a frozen server: {seconds:.1f} s: {result.message}")
        assert result.outcome == "failed"
        assert result.message == (f"cancel pid {victim.pid} on frozen: no answer from the "
                                  "server in 2 s (connecting)")
        assert result.audited
        with psycopg.connect(store_dsn) as conn:
            audited = conn.execute(
                "SELECT outcome, error FROM kasho_ops.dba_actions WHERE target = 'frozen' "
                "AND pid = %s", [victim.pid]).fetchall()
        assert audited == [("failed", result.message)]
    finally:
        victim.close()
