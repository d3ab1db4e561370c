"""The rules that read numbers other parts store: backups' recovery states (archiving broken
on a real cluster, through the states job to a firing alert and its resolve), the storage
forecast views, table_stats, and Kasho's business groups (store rows, evaluated by the same
Evaluator). Each rule reads the stored number; none computes it a second time."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import load_rules
from collectors.alerts.settings import AlertSettings
from collectors.backups.jobs import STATES_GROUP, store_recovery_states
from collectors.core.redact import Secret
from collectors.core.store import MetricStore
from dashboard.features.business import logic as business_logic
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.alert_setup import alerting_collector, alerts, collect, oncall_config
from tests.integration.backup_setup import wait_for
from tests.integration.collector_setup import monitor_dsn
from tests.pg import copy_into_store, free_port

pytestmark = pytest.mark.single_major  # store reads and rules, the same on every major
TARGET = "kasho-primary"
ARCHIVE_GROUPS = ("wal_archive_counts", "wal_archiving", "wal_archive_backlog")


@pytest.fixture(scope="module")
def archiving_cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-alert-archiving-"))
    cluster = LocalCluster(base, free_port())
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
    yield cluster
    cluster.destroy()
    shutil.rmtree(base, ignore_errors=True)


def superuser(cluster: LocalCluster, statement: str | sql.Composable,
              params: Any = None) -> Any:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def test_broken_archiving_fires_from_the_stored_recovery_state_and_resolves(
        archiving_cluster: LocalCluster, fresh_store: str) -> None:
    cluster = archiving_cluster
    config = oncall_config(fresh_store, {TARGET: monitor_dsn(cluster)}, {})
    target = config.target(TARGET)
    with alerting_collector(config, list(ARCHIVE_GROUPS)) as (collector, oncall):
        def collect_and_judge() -> None:
            collect(collector, *ARCHIVE_GROUPS)
            record = store_recovery_states(collector.store, config, target,
                                           oncall.after_recovery_run)
            assert record.error is None, record.error
            assert oncall.evaluator.drain(60)  # the rules reading the states were evaluated

        collect_and_judge()  # the counter group's baseline; archiving works
        assert alerts(fresh_store, "archiving_failing") == []
        working = superuser(cluster, "SELECT current_setting('archive_command')")
        failed_before = superuser(cluster, "SELECT failed_count FROM pg_stat_archiver")
        superuser(cluster, "ALTER SYSTEM SET archive_command = 'exit 1'")
        superuser(cluster, "SELECT pg_reload_conf()")
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_logical_emit_message(false, 'kasho-ops-test', 'x')")
            broken = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        wait_for("a failed archive attempt", lambda: superuser(
            cluster, "SELECT failed_count FROM pg_stat_archiver") > failed_before)
        collect_and_judge()
        [firing] = [a for a in alerts(fresh_store, "archiving_failing")
                    if a["instance"] == "archiving"]
        assert (firing["state"], firing["severity"]) == ("firing", "critical")
        assert firing["value"] >= 1  # failures in the last 15 minutes, as stored
        assert broken in firing["detail"]
        stored = psycopg.connect(fresh_store).execute(
            "SELECT value, message FROM kasho_ops.recovery_states WHERE target = %s AND "
            "state = 'archiving' ORDER BY collected_at DESC LIMIT 1", [TARGET]).fetchone()
        assert stored is not None and (firing["value"], firing["detail"]) == stored

        superuser(cluster, sql.SQL("ALTER SYSTEM SET archive_command = {}").format(
            sql.Literal(working)))
        superuser(cluster, "SELECT pg_reload_conf()")
        superuser(cluster, "SELECT pg_switch_wal()")
        wait_for(f"{broken} archived once fixed", lambda: superuser(
            cluster, "SELECT last_archived_wal >= %s FROM pg_stat_archiver", [broken]),
            timeout=120)
        collect_and_judge()
        [resolved] = [a for a in alerts(fresh_store, "archiving_failing")
                      if a["instance"] == "archiving"]
        assert resolved["state"] == "resolved" and resolved["id"] == firing["id"]


# -- store rows ------------------------------------------------------------------------------

def insert(conn: psycopg.Connection[Any], table: str, rows: list[dict[str, Any]]) -> None:
    """COPY rows into kasho_ops.<table>: the given columns, and a neutral value (0, '',
    false, {}) for every other NOT NULL column without a default."""
    required = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'kasho_ops' AND table_name = %s AND is_nullable = 'NO' "
        "AND column_default IS NULL ORDER BY ordinal_position", [table]).fetchall()
    neutral = {"boolean": False, "text": "", "ARRAY": "{}"}
    columns = tuple(dict.fromkeys([*rows[0], *(c for c, _ in required)]))
    fill = {c: neutral.get(t, 0) for c, t in required}
    copy_into_store(conn, table, columns,
                    [tuple(row.get(c, fill.get(c)) for c in columns) for row in rows])


def ran(conn: psycopg.Connection[Any], groups: list[str], at: datetime) -> None:
    insert(conn, "collector_runs", [{"started_at": at, "target": TARGET, "metric_group": g,
                                     "duration_ms": 1.0, "rows_written": 1} for g in groups])


def evaluate(store_dsn: str, rule_names: list[str], intervals: dict[str, int]) -> dict[
        str, list[Any]]:
    rules = load_rules()
    store = MetricStore(Secret(store_dsn))
    store.open()
    try:
        evaluation = Evaluator(AlertSettings(), store, intervals, rules=rules).evaluate(
            TARGET, [rules[n] for n in rule_names])
    finally:
        store.close()
    assert not evaluation.errors and not evaluation.skipped, (evaluation.errors,
                                                              evaluation.skipped)
    opened: dict[str, list[Any]] = {n: [] for n in rule_names}
    for change in evaluation.changes:
        opened[change.alert.rule].append(change.alert)
    return opened


def test_storage_rules_read_the_forecast_views_and_table_stats(fresh_store: str) -> None:
    now = datetime.now(UTC)
    gib = 1024 ** 3
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        # 26 h of disk use growing 1 GiB a day on a 100 GiB disk now at 97 GiB: full in 3 days.
        samples = [now - timedelta(hours=h) for h in range(26, -1, -1)]
        insert(conn, "disk_usage", [
            {"collected_at": at, "target": TARGET, "area": "tablespace", "name": "pg_default",
             "size_bytes": int(97 * gib - (now - at).total_seconds() / 86400 * gib)}
            for at in samples])
        insert(conn, "disk_capacity", [{"collected_at": at, "target": TARGET,
                                        "configured_capacity_bytes": 100 * gib}
                                       for at in samples])
        # XID ages: kasho at 55 % of the stop limit, postgres young.
        stop = 2147483647 - 3000000
        insert(conn, "database_wraparound", [
            {"collected_at": now - timedelta(minutes=1), "target": TARGET, "datname": name,
             "xid_age": age, "mxid_age": 10, "freeze_max_age": 200000000,
             "multixact_freeze_max_age": 400000000, "failsafe_age": 1600000000,
             "next_xid": 3000000000, "next_mxid": 100}
            for name, age in (("kasho", int(0.55 * stop)), ("postgres", 1000))])
        # accounts: 30 % dead; a small table at 90 % dead stays below min_dead_tuples.
        insert(conn, "table_stats", [
            {"collected_at": now - timedelta(minutes=1), "target": TARGET, "relid": relid,
             "schemaname": "public", "relname": name, "n_live_tup": live, "n_dead_tup": dead,
             "dead_tuple_ratio": dead / (live + dead)}
            for relid, name, live, dead in ((1, "accounts", 70000, 30000),
                                            (2, "tiny", 100, 900))])
        ran(conn, ["disk_usage", "disk_capacity", "database_wraparound", "table_stats"],
            now - timedelta(minutes=1))
        forecast = conn.execute("SELECT days_to_full FROM kasho_ops.disk_forecast "
                                "WHERE target = %s AND basis = 'configured capacity'",
                                [TARGET]).fetchone()
    opened = evaluate(fresh_store, ["disk_full_forecast", "wraparound_age", "dead_tuple_ratio"],
                      {"disk_usage": 300, "disk_capacity": 300, "database_wraparound": 60,
                       "table_stats": 300})
    [disk] = opened["disk_full_forecast"]
    assert forecast is not None and disk.value == pytest.approx(forecast[0] * 24)
    assert disk.value == pytest.approx(72, rel=0.01)
    assert (disk.instance, disk.severity, disk.state) == ("configured capacity", "critical",
                                                          "firing")
    assert "growing 1024 MB/day" in disk.detail
    [wraparound] = opened["wraparound_age"]
    assert (wraparound.instance, wraparound.severity) == ("kasho", "critical")
    assert wraparound.value == pytest.approx(55.0, abs=0.01)
    [dead] = opened["dead_tuple_ratio"]
    assert (dead.instance, dead.severity, dead.state) == ("public.accounts", "warning",
                                                          "pending")
    assert dead.value == pytest.approx(30.0)


def test_business_rules_read_the_pending_backlog_and_the_pages_failure_rate(
        fresh_store: str) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = []
    for minutes_ago in range(1, 11):  # 10 minutes: 9 completed, 1 failed each; 2 reversed
        minute = now - timedelta(minutes=minutes_ago)
        for event, status, count in (("created", "completed", 6), ("changed", "completed", 3),
                                     ("created", "failed", 1), ("changed", "reversed", 2),
                                     ("created_changed", "pending", 3)):
            rows.append({"collected_at": minute + timedelta(seconds=30), "target": TARGET,
                         "minute": minute, "event": event, "transaction_type": "payment",
                         "status": status, "currency": "EUR", "transactions": count,
                         "amount": 10})
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        insert(conn, "business_transactions", rows)
        insert(conn, "business_pending", [
            {"collected_at": now, "target": TARGET, "currency": "*", "transaction_type": "*",
             "transactions": 4, "oldest_created_at": now - timedelta(minutes=20),
             "oldest_age_seconds": 1200.0},
            {"collected_at": now - timedelta(minutes=5), "target": TARGET, "currency": "*",
             "transaction_type": "*", "transactions": 9, "oldest_age_seconds": 7200.0}])
        ran(conn, ["business_transactions", "business_pending"], now)
    opened = evaluate(fresh_store, ["transaction_failure_rate", "pending_backlog_age"],
                      {"business_transactions": 60, "business_pending": 60})
    [rate] = opened["transaction_failure_rate"]
    assert (rate.severity, rate.state) == ("warning", "pending")
    assert rate.value == pytest.approx(10.0)
    # The Business page's definition over the same rows says the same.
    frame = pd.DataFrame(rows).rename(columns={"minute": "bucket"})
    covered = pd.date_range(now - timedelta(minutes=10), now - timedelta(minutes=1), freq="60s")
    assert business_logic.failure_rate(frame, covered) == pytest.approx(rate.value)
    [backlog] = opened["pending_backlog_age"]
    assert (backlog.value, backlog.severity) == (1200.0, "warning")  # the latest sample
    assert backlog.detail.startswith("4 pending transaction(s), the oldest created ")


def test_recovery_state_rules_take_the_stored_severity_and_threshold(fresh_store: str) -> None:
    now = datetime.now(UTC)
    states = [("backup_age", "critical", 30.5, 26.0, "last good backup finished 30.5 h ago"),
              ("full_backup_age", "ok", 30.5, 170.0, "recent enough"),
              ("restore_drill", "critical", 2.0, 8.0, "the last restore drill failed: boom"),
              ("replication_lag_seconds", "warning", 95.0, 60.0, "standby replays 95 s behind"),
              ("slot_retention", "unknown", None, 1024.0, "no recent replication_slots sample")]
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        insert(conn, "recovery_states", [
            {"collected_at": at, "target": TARGET, "state": state, "severity": severity,
             "value": value, "threshold": threshold, "message": message}
            for at in (now - timedelta(hours=1), now - timedelta(seconds=5))  # stale, fresh
            for state, severity, value, threshold, message in states])
        ran(conn, [STATES_GROUP], now - timedelta(seconds=5))
    opened = evaluate(fresh_store, ["last_backup_age", "restore_drill", "replication_lag",
                                    "inactive_slots"], {STATES_GROUP: 60})
    [backup] = opened["last_backup_age"]
    assert (backup.instance, backup.severity, backup.value, backup.threshold) == (
        "backup_age", "critical", 30.5, 26.0)
    [drill] = opened["restore_drill"]
    assert (drill.severity, drill.state, drill.detail) == (
        "critical", "firing", "the last restore drill failed: boom")
    [lag] = opened["replication_lag"]
    assert (lag.severity, lag.state) == ("warning", "pending")  # for = 2m
    assert opened["inactive_slots"] == []  # unknown does not alert
