"""A store shaped like an incident for the on-call home's browser test: a primary restarted
two hours ago (with a collector gap around it), a configuration change with its settings, a
pg_stat_statements reset, a Kasho schema migration, and, now, a session blocked behind a
migration whose application name is hostile markup. The alerts come from the real
evaluator run over that store."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import psycopg.sql

from collectors.alerts.evaluator import Evaluator
from collectors.alerts.rules import load_rules
from collectors.alerts.settings import AlertSettings
from collectors.core.redact import Secret
from collectors.core.store import MetricStore
from tests.pg import copy_into_store

HOSTILE_APPLICATION = "<img src=x onerror=alert(1)>migrate"


def seed_incident(store_dsn: str, target: str, now: datetime, hours: int = 7) -> None:
    start = now - timedelta(hours=hours)
    restart = now - timedelta(hours=2)
    gap = (restart - timedelta(minutes=4), restart + timedelta(minutes=1))
    config_change = now - timedelta(minutes=70)
    migration = now - timedelta(minutes=25)
    states, settings, versions, info, runs = [], [], [], [], []
    t = start
    while t <= now:
        if not gap[0] <= t <= gap[1]:
            started = (start - timedelta(days=3)) if t < restart else restart
            digest = "a1" if t < config_change else "b2"
            states.append((t, target, started, started, False, 150_008, 0, digest, None))
            runs.append((t, target, "server_state", 3.0, 1, None))
            version = 5 if t < migration else 6
            versions.append((t, target, True, version, False))
            runs.append((t, target, "kasho_schema_version", 2.0, 1, None))
            reset = start - timedelta(days=1) if t < now - timedelta(minutes=50) else \
                now - timedelta(minutes=50)
            info.append((t, target, 60.0, 0, reset))
            runs.append((t, target, "query_stats_info", 2.0, 1, None))
        t += timedelta(seconds=60)
    for at, work_mem in ((config_change - timedelta(minutes=3), "4096"),
                         (config_change + timedelta(minutes=2), "65536")):
        settings += [(at, target, "work_mem", work_mem, "kB", "configuration file", False),
                     (at, target, "max_connections", "200", "", "configuration file", False)]
        runs.append((at, target, "server_settings", 4.0, 2, None))
    lock_at = now - timedelta(seconds=20)
    waits = [(lock_at, target, 4242, "kasho", "kasho_app", "kasho-api", "10.0.1.21", "relation",
              "RowExclusiveLock", "transactions", [4100], 4100, 1, 185.0, 190.0,
              "idle in transaction", HOSTILE_APPLICATION, 900.0)]
    runs.append((lock_at, target, "lock_waits", 5.0, 1, None))
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, "server_state", (
            "collected_at", "target", "started_at", "conf_loaded_at", "in_recovery",
            "server_version_num", "pending_restart_settings", "settings_digest",
            "bgwriter_stats_reset"), states)
        copy_into_store(conn, "server_settings", (
            "collected_at", "target", "name", "setting", "unit", "source", "pending_restart"),
            settings)
        copy_into_store(conn, "kasho_schema_version", (
            "collected_at", "target", "table_readable", "version", "dirty"), versions)
        copy_into_store(conn, "query_stats_info", (
            "collected_at", "target", "interval_seconds", "dealloc", "stats_reset"), info)
        copy_into_store(conn, "lock_waits", (
            "collected_at", "target", "pid", "datname", "usename", "application_name",
            "client_addr", "locktype", "mode", "relation", "blocking_pids", "root_blocker_pid",
            "chain_depth", "wait_seconds", "transaction_seconds", "root_blocker_state",
            "root_blocker_application_name", "root_blocker_transaction_seconds"), waits)
        copy_into_store(conn, "collector_runs", ("started_at", "target", "metric_group",
                                                 "duration_ms", "rows_written", "error"), runs)
        # The collector was down around the restart: nothing at all was collected.
        for table, column in (("collector_runs", "started_at"), ("connections", "collected_at"),
                              ("connection_limits", "collected_at"),
                              ("database_stats", "collected_at")):
            conn.execute(psycopg.sql.SQL("DELETE FROM kasho_ops.{} WHERE target = %s AND {} "
                                         "BETWEEN %s AND %s").format(
                psycopg.sql.Identifier(table), psycopg.sql.Identifier(column)),
                [target, *gap])
    store = MetricStore(Secret(store_dsn))
    store.open()
    try:
        Evaluator(AlertSettings(), store, {"lock_waits": 15, "connection_limits": 15},
                  rules=load_rules()).evaluate(target)
    finally:
        store.close()
