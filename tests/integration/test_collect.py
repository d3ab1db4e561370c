"""Collectors against real clusters: every group, exact counter deltas, failures as data."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from collectors.core.connections import TargetConnections
from collectors.core.metric_groups import load_catalog
from collectors.core.sql_parameters import bind
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster, PgInstall
from tests.conftest import KashoDatabase
from tests.integration.collector_setup import (
    make_config,
    monitor_dsn,
    open_collector,
    write_config_file,
)
from tests.pg import HeldSession, free_port


def store_rows(store_dsn: str, query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()


def test_collect_once_cli_writes_rows_for_every_group(
        pg_cluster: LocalCluster, fresh_store: str, kasho_database: KashoDatabase,
        tmp_path: Path) -> None:
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"local": monitor_dsn(pg_cluster)},
                               business={"local": kasho_database.business_dsn})
    groups = {name: g for name, g in load_catalog().items() if g.target_kind == "postgres"}
    counters = sorted(name for name, group in groups.items() if group.is_counter)
    # Besides the groups, --once evaluates the target's recovery states (collectors/backups).
    runs_per_cycle = sorted([*groups, "recovery_states"])
    outputs = []
    for _ in range(2):  # the first run takes the counter baselines, the second stores deltas
        result = subprocess.run([sys.executable, "-m", "collectors.cli", "collect", "--once",
                                 "--config", str(config)], capture_output=True, text=True,
                                timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().splitlines()[-1] == \
            f"{len(runs_per_cycle)} ok, 0 failed"
        outputs.append(result.stdout)
    assert outputs[0].count("note: first sample: baseline taken, deltas from the next run") \
        == len(counters)
    assert "baseline taken" not in outputs[1]
    assert outputs[1].count("note: continued from the stored baseline") == len(counters)
    # Nothing waits, runs or holds a snapshot or a transaction open but us, and the postgres
    # database has no tables of its own; no standby, slot or base backup on the test server.
    idle_server_writes_none = {"lock_waits", "wait_events", "maintenance_progress",
                               "xmin_horizon", "table_stats", "index_stats", "schema_size",
                               "bloat_estimate", "replication_standbys", "replication_slots",
                               "basebackup_progress", "transaction_ages", "active_sessions"}
    if pg_cluster.major < 16:
        idle_server_writes_none.add("io_stats")  # pg_stat_io is new in 16
    for group in groups:
        (count,) = store_rows(fresh_store, f"SELECT count(*) FROM kasho_ops.{group}")[0]
        assert count > 0 or group in idle_server_writes_none, f"{group} wrote no rows"
    runs = store_rows(fresh_store, "SELECT metric_group, error FROM kasho_ops.collector_runs "
                                   "ORDER BY metric_group")
    assert runs == [(g, None) for g in runs_per_cycle for _ in range(2)]
    assert store_rows(fresh_store, "SELECT metric_group FROM kasho_ops.counter_baselines "
                                   "ORDER BY 1") == [(g,) for g in counters]


def test_every_definition_runs_as_monitor_role_and_matches_its_store_table(
        pg_cluster: LocalCluster, store_dsn: str) -> None:
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster)})
    connections = TargetConnections(config.targets[0], config.collector)
    try:  # the business groups' twin is in test_business_collect.py
        for group in load_catalog().values():
            if group.target_kind != "postgres":
                continue  # tests/integration/test_pgbouncer.py
            if group.connection != "monitoring":
                continue
            with connections.connection() as conn:
                major = conn.info.server_version // 10000
                # A stand-in that answers (the role may not read the group) is what runs.
                stand_in = group.unreadable_sql_for(major)
                cursor = conn.execute(stand_in) if stand_in else None
                if cursor is None or not cursor.fetchall():
                    cursor = conn.execute(group.sql_for(major),
                                          bind(group.parameters, config.targets[0],
                                               config.collector))
                columns = [c.name for c in cursor.description or ()]
            extra = ["interval_seconds"] if group.is_counter else []
            if group.is_sampled:  # averages over the window's samples (core/sampling.py)
                extra = ["samples", "interval_seconds"]
            table_columns = [r[0] for r in store_rows(
                store_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                "table_schema = 'kasho_ops' AND table_name = %s ORDER BY ordinal_position",
                [group.store_table])]
            row_columns = [c for c in columns if c not in group.text_columns]
            assert sorted(table_columns) == sorted(["collected_at", "target", *extra,
                                                    *row_columns])
            if group.text_columns:
                text_table_columns = [r[0] for r in store_rows(
                    store_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                    "table_schema = 'kasho_ops' AND table_name = %s", [group.text_table])]
                assert sorted(text_table_columns) == sorted(
                    ["target", "first_seen_at", *group.text_keys, *group.text_columns])
    finally:
        connections.close()


def test_monitoring_sessions_are_read_only_bounded_and_named(
        pg_cluster: LocalCluster, store_dsn: str) -> None:
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster)})
    connections = TargetConnections(config.targets[0], config.collector)
    try:
        with connections.connection() as conn:
            settings = conn.execute(
                "SELECT current_setting('default_transaction_read_only'), "
                "current_setting('statement_timeout'), current_setting('lock_timeout'), "
                "current_setting('application_name'), "
                "current_setting('idle_in_transaction_session_timeout'), "
                "current_setting('jit'), "
                "pg_has_role(current_user, 'pg_monitor', 'member'), "
                "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user)").fetchone()
            assert settings == ("on", "5s", "500ms", "kasho-ops", "30s", "off", True, False)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("CREATE TEMP TABLE t (id int)")
    finally:
        connections.close()


def test_query_on_locked_table_gives_up_and_collection_carries_on(
        pg_cluster: LocalCluster, store_dsn: str, fresh_database: str, tmp_path: Path) -> None:
    from collectors.core.engine import Engine
    from collectors.core.metric_groups import MetricGroup
    from collectors.core.store import MetricStore

    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as admin:
        admin.execute("CREATE TABLE ledger (id int)")
    locker = HeldSession(pg_cluster.dsn(fresh_database))
    locker.execute("BEGIN")
    locker.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
    relation_size = MetricGroup(
        name="database_size", description="size of a locked table", interval_seconds=60,
        kind="gauge", keys=("datname",), unit="bytes", requires="pg_monitor",
        sql_by_major=((13, "SELECT 'ledger' AS datname, "
                           "pg_total_relation_size('public.ledger'::regclass) AS size_bytes"),))
    config = make_config(store_dsn, {"locked": monitor_dsn(pg_cluster, fresh_database)})
    store = MetricStore(config.store.dsn)
    store.open()
    engine = Engine(config.collector, store)
    try:
        blocked = engine.run(relation_size, config.targets[0])
        assert blocked.error is not None
        assert "canceling statement due to lock timeout" in blocked.error
        assert blocked.rows_written == 0
        carried_on = engine.run(load_catalog()["connections"], config.targets[0])
        assert carried_on.error is None and carried_on.rows_written > 0
        assert store.flush(30)
        recorded = store_rows(store_dsn, "SELECT metric_group, error IS NULL FROM "
                              "kasho_ops.collector_runs WHERE target = 'locked' "
                              "ORDER BY started_at")
        assert recorded == [("database_size", False), ("connections", True)]
    finally:
        engine.close()
        store.close()
        locker.close()


def test_counter_deltas_are_exact_for_controlled_work(
        pg_cluster: LocalCluster, fresh_store: str, fresh_database: str) -> None:
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster)})
    collector = open_collector(config, ["database_stats"])
    group = collector.groups[0]
    try:
        with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
            conn.execute("CREATE TABLE payments (id int)")
        time.sleep(1.1)  # let the setup's stats flush before the baseline
        baseline = collector.collect(group, config.targets[0])
        assert baseline.error is None and baseline.rows_written == 0
        assert baseline.note == "first sample: baseline taken, deltas from the next run"
        with psycopg.connect(pg_cluster.dsn(fresh_database)) as conn:
            for i in range(25):
                conn.execute("INSERT INTO payments VALUES (%s)", [i])
                conn.commit()
            for _ in range(3):
                conn.execute("INSERT INTO payments VALUES (0), (0)")
                conn.rollback()
        time.sleep(0.2)  # backend exit flushes its statistics
        record = collector.collect(group, config.targets[0])
        assert record.error is None
        [(commits, rollbacks, inserted, has_interval)] = store_rows(
            fresh_store, "SELECT xact_commit, xact_rollback, tup_inserted, "
            "interval_seconds > 0 FROM kasho_ops.database_stats WHERE datname = %s",
            [fresh_database])
        assert (rollbacks, inserted, has_interval) == (3, 31, True)  # 6 rolled-back inserts
        # An autovacuum worker visiting the new database commits a few transactions of its own.
        assert 25 <= commits <= 30
    finally:
        collector.close()
        collector.store.close()


def test_stats_reset_and_server_restart_never_give_negative_deltas(
        tmp_path: Path, store_dsn: str, pg_install: PgInstall) -> None:
    cluster = LocalCluster(tmp_path / "restarting", free_port(), install=pg_install)
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon")
            conn.execute("CREATE DATABASE app")
        config = make_config(store_dsn, {"restarting": cluster.dsn("postgres", "mon")})
        collector = open_collector(config, ["database_stats"])
        group, target = collector.groups[0], config.targets[0]
        assert collector.collect(group, target).error is None
        with psycopg.connect(cluster.dsn("app"), autocommit=True) as conn:
            conn.execute("SELECT pg_stat_reset()")
        after_reset = collector.collect(group, target)
        assert "statistics reset" in (after_reset.note or "")
        assert store_rows(store_dsn, "SELECT count(*) FROM kasho_ops.database_stats "
                          "WHERE target = 'restarting' AND datname = 'app'") == [(0,)]
        cluster.restart()
        cluster.wait_ready()
        # The pool replaces the connection that died with the server; the engine sees the new
        # postmaster start time and takes a fresh baseline instead of a delta.
        after_restart = collector.collect(group, target)
        assert "restarted" in (after_restart.note or "")
        assert after_restart.rows_written == 0
        with psycopg.connect(cluster.dsn("app"), autocommit=True) as conn:
            conn.execute("SELECT 1")
        time.sleep(0.2)
        record = collector.collect(group, target)
        assert record.error is None and record.rows_written > 0
        negative = store_rows(store_dsn, "SELECT count(*) FROM kasho_ops.database_stats "
                              "WHERE target = 'restarting' AND (xact_commit < 0 OR "
                              "blks_hit < 0 OR tup_returned < 0)")
        assert negative == [(0,)]
        collector.close()
        collector.store.close()
    finally:
        cluster.destroy()


def test_target_down_is_recorded_and_other_targets_still_collect(
        pg_cluster: LocalCluster, fresh_store: str) -> None:
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=y password=hunter2"
    config = make_config(fresh_store, {"alive": monitor_dsn(pg_cluster), "dead": dead})
    collector = open_collector(config, ["connections", "database_size"])
    try:
        records = collector.run_once()
    finally:
        collector.close()
        collector.store.close()
    by_target = {(r.target, r.metric_group): r for r in records}
    assert by_target[("alive", "connections")].error is None
    assert by_target[("alive", "database_size")].rows_written > 0
    dead_errors = [by_target[("dead", g)].error for g in ("connections", "database_size")]
    assert "cannot connect" in dead_errors[0] and "Connection refused" in dead_errors[0]
    assert dead_errors[1].startswith("skipped: target down since")  # backoff, not a retry storm
    stored = store_rows(fresh_store, "SELECT target, error FROM kasho_ops.collector_runs")
    assert len(stored) == 4
    assert not any("hunter2" in (error or "") for _, error in stored)


def test_scheduled_collector_runs_repeatedly_and_logs_an_outage_once(
        pg_cluster: LocalCluster, fresh_store: str, tmp_path: Path) -> None:
    dead = f"host=127.0.0.1 port={free_port()} dbname=x user=y password=hunter2"
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"alive": monitor_dsn(pg_cluster), "dead": dead},
                               extra="[intervals]\nconnections = 1\nconnection_limits = 1\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "collectors.cli", "collect", "--config", str(config),
         "--group", "connections", "--group", "connection_limits"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        alive_runs = 0
        while time.monotonic() < deadline and alive_runs < 8:
            time.sleep(0.5)
            alive_runs = store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.collector_runs "
                                    "WHERE target = 'alive' AND error IS NULL")[0][0]
        assert alive_runs >= 8
    finally:
        process.send_signal(signal.SIGTERM)  # what a service manager sends
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "stopping: waiting for running collections" in stderr
    assert stderr.count("target dead: cannot connect") == 1, stderr
    assert "hunter2" not in stderr and "Traceback" not in stderr
    dead_runs = store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.collector_runs "
                           "WHERE target = 'dead' AND error IS NOT NULL")[0][0]
    assert dead_runs >= 2


@pytest.mark.single_major  # the store's outage (its own cluster), not the target's version
def test_store_outage_buffers_rows_and_resends_them(
        tmp_path: Path, pg_cluster: LocalCluster) -> None:
    from collectors.core.scheduler import Collector
    from collectors.core.store import MetricStore

    store_cluster = LocalCluster(tmp_path / "store", free_port())
    store_cluster.start()
    try:
        MigrationRunner(store_cluster.dsn(), "monitoring").up()
        config = make_config(store_cluster.dsn(), {"local": monitor_dsn(pg_cluster)})
        store = MetricStore(config.store.dsn)
        store.open()
        collector = Collector(config, [load_catalog()["connection_limits"]], store)
        group, target = collector.groups[0], config.targets[0]
        assert collector.collect(group, target).error is None
        assert store.flush(30)
        store_cluster.stop()
        during = collector.collect(group, target)
        assert during.error is None  # reading the target never waits for the store
        assert store.pending_rows == 2  # one metric row + one run record
        assert not store.flush(1)
        store_cluster.start()
        collector.collect(group, target)
        assert store.flush(60)
        assert store.pending_rows == 0
        rows = store_rows(store_cluster.dsn(), "SELECT count(*) FROM kasho_ops.connection_limits")
        runs = store_rows(store_cluster.dsn(), "SELECT count(*) FROM kasho_ops.collector_runs")
        assert rows == [(3,)] and runs == [(3,)]
        collector.close()
        store.close()
    finally:
        store_cluster.destroy()


def test_pool_warns_when_other_kasho_ops_sessions_leave_no_room_under_the_role_limit(
        pg_cluster: LocalCluster, fresh_store: str, caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS tight_monitor")
        conn.execute("CREATE ROLE tight_monitor LOGIN CONNECTION LIMIT 3")
        conn.execute("GRANT pg_monitor TO tight_monitor")
    target_dsn = pg_cluster.dsn("postgres", "tight_monitor")
    others = [HeldSession(target_dsn, "kasho-ops") for _ in range(2)]  # another collector
    try:
        config = make_config(fresh_store, {"tight": target_dsn})
        collector = open_collector(config, ["connection_limits"])
        try:
            with caplog.at_level("WARNING", logger="collectors.core.connections"):
                record = collector.collect(collector.groups[0], config.targets[0])
        finally:
            collector.close()
            collector.store.close()
    finally:
        for session in others:
            session.close()
    assert record.error is None  # 2 others + 1 pooled session still fit under 3
    ours = [r.getMessage() for r in caplog.records if r.name == "collectors.core.connections"]
    # The probe's backend may still count against the limit for a moment after it closed
    # (backends exit asynchronously): the pool's first connect may then be refused once and
    # retried, which psycopg_pool logs. Nothing else may be logged.
    others_logged = [r.getMessage() for r in caplog.records
                     if r.name != "collectors.core.connections"]
    assert all(r.startswith("error connecting in 'kasho-ops:tight'") and
               'too many connections for role "tight_monitor"' in r for r in others_logged), \
        others_logged
    warnings = ours
    assert len(warnings) == 1
    assert warnings[0].startswith("target tight: the monitoring role has CONNECTION LIMIT 3 "
                                  "and 2 Kasho Ops sessions are already open")


def test_pool_opens_quietly_with_room_under_the_role_limit(
        pg_cluster: LocalCluster, fresh_store: str, caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS roomy_monitor")
        conn.execute("CREATE ROLE roomy_monitor LOGIN CONNECTION LIMIT 3")
        conn.execute("GRANT pg_monitor TO roomy_monitor")
    # Our own role: pools other tests left open must not count here.
    config = make_config(fresh_store, {"roomy": pg_cluster.dsn("postgres", "roomy_monitor")})
    collector = open_collector(config, ["connection_limits"])
    try:
        with caplog.at_level("WARNING", logger="collectors.core.connections"):
            assert collector.collect(collector.groups[0], config.targets[0]).error is None
    finally:
        collector.close()
        collector.store.close()
    assert not caplog.records
