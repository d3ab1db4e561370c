"""Each alert rule's condition on real conditions: connections opened to 90 % of the limit
(pending, then firing after `for`), a statement that regresses, idle and long transactions
(pg_dump's left out), a target that goes down and a group that stops collecting."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import RuleOverride, load_rules
from collectors.alerts.settings import AlertSettings
from collectors.core.redact import Secret
from collectors.core.store import MetricStore
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.alert_setup import alerting_collector, alerts, collect, oncall_config
from tests.integration.collector_setup import monitor_dsn
from tests.pg import HeldSession, copy_into_store, free_port, held_sessions

pytestmark = pytest.mark.single_major  # store reads and rules, the same on every major
TARGET = "kasho-primary"


@pytest.fixture(scope="module")
def small_cluster() -> Iterator[LocalCluster]:
    """max_connections 23 with 3 reserved for superusers: 20 usable."""
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-alerts-"))
    cluster = LocalCluster(base, free_port(), settings={"max_connections": "23"})
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


def test_connections_at_90_percent_of_the_limit_go_pending_then_fire_then_resolve(
        small_cluster: LocalCluster, fresh_store: str) -> None:
    config = oncall_config(fresh_store, {TARGET: monitor_dsn(small_cluster)},
                           {"rules": {"connection_use": {"for": "3s"}}})
    with alerting_collector(config, ["connection_limits"]) as (collector, _):
        # 17 sessions + the collector's own = 18 of 20 usable: 90 %.
        with held_sessions(small_cluster.dsn(), 17):
            collect(collector, "connection_limits")
            [pending] = alerts(fresh_store)
            assert (pending["state"], pending["severity"], pending["value"]) == (
                "pending", "critical", 90.0)
            assert pending["detail"] == ("18 of 20 usable connections in use "
                                         "(max_connections 23, 3 reserved)")
            time.sleep(3.5)
            collect(collector, "connection_limits")
            [firing] = alerts(fresh_store)
            assert firing["state"] == "firing" and firing["id"] == pending["id"]
            assert firing["firing_since"] - firing["pending_since"] >= timedelta(seconds=3)
        collect(collector, "connection_limits")
        [resolved] = alerts(fresh_store)
        assert resolved["state"] == "resolved" and resolved["last_value"] == 5.0


def test_a_pending_alert_that_clears_before_its_for_is_dropped(
        small_cluster: LocalCluster, fresh_store: str) -> None:
    config = oncall_config(fresh_store, {TARGET: monitor_dsn(small_cluster)},
                           {"rules": {"connection_use": {"for": "10m"}}})
    with alerting_collector(config, ["connection_limits"]) as (collector, _):
        with held_sessions(small_cluster.dsn(), 16):
            collect(collector, "connection_limits")
            assert [a["state"] for a in alerts(fresh_store)] == ["pending"]
        collect(collector, "connection_limits")
        assert alerts(fresh_store) == []


def test_idle_and_long_transactions_fire_except_for_excluded_applications(
        pg_cluster: LocalCluster, fresh_store: str, fresh_database: str) -> None:
    config = oncall_config(fresh_store, {TARGET: monitor_dsn(pg_cluster)}, {
        "exclude_applications": ["pg_dump", "pg_repack"],
        "rules": {"idle_in_transaction": {"warning": 1, "critical": 3600, "for": "0s"},
                  "long_transaction": {"warning": 1, "critical": 3600, "for": "0s"}}})
    dsn = pg_cluster.dsn(fresh_database)
    dump = HeldSession(dsn, application_name="pg_dump")
    dump.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    dump.execute("SELECT 1")
    try:
        with alerting_collector(config, ["transaction_ages"]) as (collector, _):
            time.sleep(1.2)
            collect(collector, "transaction_ages")
            assert alerts(fresh_store) == [], "pg_dump's transaction paged someone"
            app = HeldSession(dsn, application_name="kasho-worker")
            app.execute("BEGIN")
            app.execute("SELECT 1")
            try:
                time.sleep(1.2)
                collect(collector, "transaction_ages")
                fired = {a["rule"]: a for a in alerts(fresh_store)}
                assert set(fired) == {"idle_in_transaction", "long_transaction"}
                for alert in fired.values():
                    assert (alert["state"], alert["instance"]) == ("firing", fresh_database)
                    assert "application kasho-worker" in alert["detail"]
            finally:
                app.execute("ROLLBACK")
                app.close()
            collect(collector, "transaction_ages")
            assert {a["state"] for a in alerts(fresh_store)} == {"resolved"}
    finally:
        dump.close()


def test_a_statement_that_regresses_fires_with_its_masked_text(
        pg_cluster: LocalCluster, fresh_store: str, fresh_database: str) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, account int, note text)")
        conn.execute("INSERT INTO ledger SELECT g, g % 5000, 'secret-' || g "
                     "FROM generate_series(1, 300000) g")
        conn.execute("CREATE INDEX ledger_account ON ledger (account)")
        conn.execute("ANALYZE ledger")
    statement = "SELECT count(*) FROM ledger WHERE account = %s AND note <> 'x'"
    config = oncall_config(fresh_store, {TARGET: monitor_dsn(pg_cluster)},
                           {"enabled": False})  # evaluated below, with windows fitting the test
    with alerting_collector(config, ["query_stats"]) as (collector, _), \
            psycopg.connect(dsn, autocommit=True) as app:
        collect(collector, "query_stats")  # baseline taken
        for i in range(60):
            app.execute(statement, [i])
        collect(collector, "query_stats")
        time.sleep(2)
        app.execute("DROP INDEX ledger_account")
        for i in range(60):
            app.execute(statement, [i])
        collect(collector, "query_stats")
        with psycopg.connect(fresh_store) as conn:
            times = [r[0] for r in conn.execute(
                "SELECT DISTINCT collected_at FROM kasho_ops.query_stats ORDER BY 1")]
            now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        assert len(times) == 2
        recent_seconds = (now - times[1]).total_seconds() + (times[1] - times[0]) \
            .total_seconds() / 2
        settings = AlertSettings(rules={})
        rules = load_rules()
        regression = rules["statement_regression"]
        rules = {"statement_regression": type(regression)(**{
            **regression.__dict__, "params": {**regression.params,
                                              "recent_seconds": recent_seconds}})}
        store = MetricStore(config.store.dsn)
        store.open()
        try:
            evaluation = Evaluator(settings, store, {"query_stats": 60},
                                   rules=rules).evaluate(TARGET)
        finally:
            store.close()
    assert evaluation.errors == {}
    with psycopg.connect(pg_cluster.dsn()) as conn:
        queryid = conn.execute(
            "SELECT queryid::text FROM pg_stat_statements WHERE query LIKE %s "
            "AND dbid = (SELECT oid FROM pg_database WHERE datname = %s)",
            ["%FROM ledger WHERE account%", fresh_database]).fetchone()[0]  # type: ignore[index]
    [alert] = [a for a in alerts(fresh_store) if a["instance"] == queryid]
    assert (alert["rule"], alert["state"], alert["severity"]) == (
        "statement_regression", "firing", "critical")
    assert alert["value"] >= 5
    assert "calls recently" in alert["detail"]
    assert "ledger" in alert["detail"] and "secret-" not in alert["detail"]
    # Named as every page names it: the lexer's first words, literals masked.
    assert re.search(r"\): SELECT count\(\*\) FROM ledger WHERE account = \$1 AND note <> "
                     r"(\$2|'\?')$", alert["detail"]), alert["detail"]


def test_a_target_that_goes_down_fires_and_a_failing_group_goes_stale(
        fresh_store: str) -> None:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-down-"))
    cluster = LocalCluster(base, free_port())
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN")
            conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        config = oncall_config(
            fresh_store, {TARGET: monitor_dsn(cluster)},
            {"rules": {"target_down": {"warning": 1, "critical": 3600},
                       "collector_stale": {"warning": 2, "critical": 1000}}},
            intervals={"connection_limits": 1, "query_stats": 1})
        with alerting_collector(config, ["connection_limits", "query_stats"]) as (
                collector, oncall):
            groups = {g.name: g for g in collector.groups}
            target = config.targets[0]
            collector.collect(groups["connection_limits"], target)
            # query_stats fails: no pg_stat_statements in this cluster's database.
            assert collector.collect(groups["query_stats"], target).error
            time.sleep(2.5)
            collector.collect(groups["connection_limits"], target)
            stale = oncall.evaluator.evaluate(TARGET, [oncall.evaluator.all_rules[
                "collector_stale"]])
            assert [(c.kind, c.alert.instance) for c in stale.changes] == [
                ("open", "query_stats")]
            assert "pg_stat_statements" in stale.changes[0].alert.detail
            cluster.stop()
            collector.collect(groups["connection_limits"], target)
            time.sleep(1.2)
            down = oncall.evaluator.evaluate(TARGET, [oncall.evaluator.all_rules[
                "target_down"]])
            [change] = down.changes
            assert (change.kind, change.alert.severity) == ("open", "warning")
            assert "latest error" in change.alert.detail
            cluster.start()
            collector.health.get(TARGET).retry_at = 0.0  # no backoff wait in the test
            collector.collect(groups["connection_limits"], target)
            up = oncall.evaluator.evaluate(TARGET, [oncall.evaluator.all_rules[
                "target_down"]])
            assert [c.kind for c in up.changes] == ["resolve"]
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_a_regression_against_hours_of_baseline_reads_the_hourly_rollup(
        fresh_store: str) -> None:
    """Baseline samples from earlier hours (through query_stats_hourly) and from the current
    hour (per interval) both count; the recent window only holds the slow samples."""
    now = datetime.now(UTC)
    columns = ("collected_at", "target", "interval_seconds", "queryid", "dbid", "userid",
               "calls", "total_exec_time_ms", "exec_time_squares_ms2", "plans",
               "total_plan_time_ms", "rows", "shared_blks_hit", "shared_blks_read",
               "shared_blks_dirtied", "shared_blks_written", "temp_blks_read",
               "temp_blks_written", "blk_read_time_ms", "blk_write_time_ms", "wal_records",
               "wal_bytes", "stats_since", "toplevel")

    def sample(at: datetime, calls: int, time_ms: float) -> tuple[object, ...]:
        return (at, TARGET, 60.0, 77, 1, 10, calls, time_ms, 0.0, 0, 0.0, calls, 0, 0, 0, 0,
                0, 0, 0.0, 0.0, 0, 0, None, True)

    rows = [sample(now - timedelta(hours=h), 40, 40.0) for h in (5, 4, 3)]  # 1 ms each
    rows.append(sample(now - timedelta(minutes=2), 30, 3000.0))  # 100 ms each, recent
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        copy_into_store(conn, "query_stats", columns, rows)
        conn.execute("INSERT INTO kasho_ops.query_texts VALUES (%s, 77, 1, 10, now(), 'kasho', "
                     "'app', 'SELECT * FROM accounts WHERE id = $1')", [TARGET])
        copy_into_store(conn, "collector_runs", (
            "started_at", "target", "metric_group", "duration_ms", "rows_written"),
            [(now - timedelta(minutes=2), TARGET, "query_stats", 5.0, 1)])
        hourly = conn.execute("SELECT count(*) FROM kasho_ops.query_stats_hourly").fetchone()
    assert hourly == (4,)
    store = MetricStore(Secret(fresh_store))
    store.open()
    try:
        rules = load_rules(
            {"statement_regression": RuleOverride(params={"recent_seconds": 600,
                                                          "min_calls": 20})})
        evaluation = Evaluator(AlertSettings(), store, {"query_stats": 60},
                               rules=rules).evaluate(TARGET, [rules["statement_regression"]])
    finally:
        store.close()
    [change] = evaluation.changes
    assert (change.kind, change.alert.instance, change.alert.severity) == ("open", "77",
                                                                           "critical")
    assert change.alert.value == pytest.approx(100.0)
    assert change.alert.detail.startswith("mean 100.00 ms over 30 calls recently, was 1.00 ms "
                                          "over 120 calls (database kasho, role app): SELECT")
