"""Wraparound, disk and bloat against real servers: XIDs moved with pg_resetwal -x and then
consumed by a loop of transactions (the age and the forecast move), the disk-full forecast
on steady and too-short history, the host filesystem read by statvfs, bloat estimated where
pg_stats is readable and suppressed with the reason where not, the exact measure with
pgstattuple (audited, refused when actions are off), and pg_buffercache where installed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from collectors.actions.bloat_measure import BloatRequest, measure_bloat
from collectors.core.access import Actor
from collectors.core.config import parse_config
from collectors.core.metric_groups import load_catalog
from demo.cluster import LocalCluster, PgInstall
from tests.integration.collector_setup import monitor_dsn
from tests.integration.storage_setup import (
    cluster_with_next_xid,
    collect,
    consume_xids,
    storage_collector,
    storage_config,
    store_rows,
    unmarked_statements,
)
from tests.pg import copy_into_store
from tests.storage_history import seed_history_before

NEXT_XID = 150 * 1024 * 1024  # 157,286,400: a pg_xact segment boundary
ADMIN = Actor("dba@kasho.example", "admin")
OPERATOR = Actor("oncall@kasho.example", "operator")


def test_xid_age_and_wraparound_forecast_move_as_xids_are_consumed(
        store_dsn: str, pg_install: PgInstall) -> None:
    target = "xid-moved"
    with cluster_with_next_xid(NEXT_XID, pg_install) as cluster:
        config = storage_config(store_dsn, target, monitor_dsn(cluster))
        with storage_collector(config) as collector:
            collect(collector, "database_wraparound")
            ages = dict(store_rows(store_dsn, "SELECT datname, xid_age FROM "
                                              "kasho_ops.database_wraparound WHERE target = %s",
                                   [target]))
            # every database's datfrozenxid predates the jump: its age is the jump
            assert set(ages) == {"postgres", "template0", "template1"}
            assert all(NEXT_XID - 1000 < age < NEXT_XID + 1000 for age in ages.values())
            # two hours of earlier samples at 2.4 M XIDs/day, ending in the real one
            seed_history_before(store_dsn, target, days=2 / 24, xids_per_day=2_400_000,
                                groups=("database_wraparound",))
            before = store_rows(store_dsn, """
                SELECT status, xid_age, xids_per_day, days_to_emergency, days_to_freeze_max_age
                FROM kasho_ops.wraparound_forecast
                WHERE target = %s AND datname = 'postgres'""", [target])[0]
            assert before[0] == "forecast"
            assert before[2] == pytest.approx(2_400_000, rel=0.05)
            assert before[3] == pytest.approx((2**31 - 1 - 3_000_000 - before[1]) / before[2],
                                              rel=0.01)
            assert before[4] == pytest.approx((200_000_000 - before[1]) / before[2], rel=0.01)

            consume_xids(cluster.dsn(), 3000)
            collect(collector, "database_wraparound")
        after = store_rows(store_dsn, """
            SELECT status, xid_age, xids_per_day, days_to_emergency
            FROM kasho_ops.wraparound_forecast
            WHERE target = %s AND datname = 'postgres'""", [target])[0]
    assert after[0] == "forecast"
    assert after[1] >= before[1] + 3000  # the age moved by at least the XIDs consumed
    assert after[3] < before[3]  # and the emergency came closer


def test_wraparound_forecast_needs_an_hour_of_history(pg_cluster: LocalCluster,
                                                      store_dsn: str) -> None:
    target = "xid-short-history"
    config = storage_config(store_dsn, target, monitor_dsn(pg_cluster))
    with storage_collector(config) as collector:
        for _ in range(3):
            collect(collector, "database_wraparound")
    rows = store_rows(store_dsn, "SELECT DISTINCT status, days_to_emergency FROM "
                                 "kasho_ops.wraparound_forecast WHERE target = %s", [target])
    assert rows == [("insufficient history", None)]


def seed_disk(store_dsn: str, target: str, hours: float, used: float, growth_per_day: float,
              capacity: int | None, step_minutes: int = 30) -> datetime:
    now = datetime.now(UTC)
    usage, capacities = [], []
    t = now - timedelta(hours=hours)
    while t <= now:
        age_days = (now - t).total_seconds() / 86400
        size = round(used - growth_per_day * age_days)
        usage += [(t, target, "tablespace", "pg_default", "/data/base", size - 16 * 2**20, None),
                  (t, target, "wal", "pg_wal", "/data/pg_wal", 16 * 2**20, 1)]
        capacities.append((t, target, "/data", capacity, None, None, "not measured: off"))
        t += timedelta(minutes=step_minutes)
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        copy_into_store(conn, "disk_usage", ("collected_at", "target", "area", "name",
                                             "location", "size_bytes", "files"), usage)
        copy_into_store(conn, "disk_capacity", (
            "collected_at", "target", "data_directory", "configured_capacity_bytes",
            "filesystem_total_bytes", "filesystem_free_bytes", "filesystem_note"), capacities)
    return now


@pytest.mark.single_major  # the store's forecast view over seeded rows
def test_disk_forecast_from_steady_growth_says_when_and_how_sure(store_dsn: str) -> None:
    target = "disk-steady"
    gib = 2**30
    seed_disk(store_dsn, target, hours=96, used=60 * gib, growth_per_day=2 * gib,
              capacity=100 * gib)
    ((status, days, growth, low, high, r2, confidence, earliest, latest_at, full_at),) = (
        store_rows(store_dsn, """
            SELECT status, days_to_full, growth_bytes_per_day, growth_low_bytes_per_day,
                   growth_high_bytes_per_day, r2, confidence, full_at_earliest, full_at_latest,
                   full_at
            FROM kasho_ops.disk_forecast
            WHERE target = %s AND basis = 'configured capacity'""", [target]))
    assert status == "forecast" and confidence == "high"
    assert growth == pytest.approx(2 * gib, rel=0.001) and r2 == pytest.approx(1)
    assert days == pytest.approx(20, rel=0.01)  # 40 GiB free at 2 GiB a day
    assert low <= growth <= high and earliest <= full_at <= latest_at
    host = store_rows(store_dsn, "SELECT count(*) FROM kasho_ops.disk_forecast "
                                 "WHERE target = %s AND basis = 'host filesystem'", [target])
    assert host == [(0,)]  # never measured: no series, no forecast


@pytest.mark.single_major  # the store's forecast view over seeded rows
def test_disk_forecast_refuses_too_little_history(store_dsn: str) -> None:
    target = "disk-short"
    seed_disk(store_dsn, target, hours=6, used=10 * 2**30, growth_per_day=2**30,
              capacity=20 * 2**30)
    rows = store_rows(store_dsn, "SELECT status, days_to_full, full_at, enough_history FROM "
                                 "kasho_ops.disk_forecast WHERE target = %s", [target])
    assert rows == [("insufficient history", None, None, False)]


@pytest.mark.single_major  # the store's forecast view over seeded rows
def test_disk_growth_is_fitted_without_a_configured_capacity(store_dsn: str) -> None:
    target = "disk-no-capacity"
    seed_disk(store_dsn, target, hours=48, used=10 * 2**30, growth_per_day=2**30,
              capacity=None)
    ((status, enough, growth, days),) = store_rows(store_dsn, """
        SELECT status, enough_history, growth_bytes_per_day, days_to_full
        FROM kasho_ops.disk_forecast WHERE target = %s""", [target])
    assert (status, enough, days) == ("no capacity configured", True, None)
    assert growth == pytest.approx(2**30, rel=0.001)


def test_disk_capacity_reads_the_data_directory_filesystem_only_on_the_host(
        pg_cluster: LocalCluster, store_dsn: str) -> None:
    for name, on_host in (("fs-on-host", True), ("fs-off", False)):
        config = storage_config(store_dsn, name, monitor_dsn(pg_cluster),
                                host_filesystem=on_host, disk_capacity_bytes=10 * 2**30)
        with storage_collector(config) as collector:
            collect(collector, "disk_capacity", "disk_usage")
    stats = os.statvfs(pg_cluster.data_dir)
    ((directory, capacity, total, free, note),) = store_rows(store_dsn, """
        SELECT data_directory, configured_capacity_bytes, filesystem_total_bytes,
               filesystem_free_bytes, filesystem_note
        FROM kasho_ops.disk_capacity WHERE target = 'fs-on-host'""")
    assert directory == str(pg_cluster.data_dir) and capacity == 10 * 2**30 and note is None
    assert total == stats.f_blocks * stats.f_frsize
    assert abs(free - stats.f_bavail * stats.f_frsize) < 512 * 2**20  # others write too
    ((total, free, note),) = store_rows(store_dsn, """
        SELECT filesystem_total_bytes, filesystem_free_bytes, filesystem_note
        FROM kasho_ops.disk_capacity WHERE target = 'fs-off'""")
    assert (total, free) == (None, None) and "host_filesystem is off" in note
    wal = store_rows(store_dsn, "SELECT size_bytes, files FROM kasho_ops.disk_usage WHERE "
                                "target = 'fs-off' AND area = 'wal'")
    assert wal[0][0] == wal[0][1] * 16 * 2**20  # whole 16 MB segments


def test_bloat_is_estimated_where_pg_stats_is_readable_and_suppressed_with_why_where_not(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str) -> None:
    target = "bloat"
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in ("notes_granted", "notes_hidden"):
            conn.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, body text) "
                         "WITH (autovacuum_enabled = false)")
            conn.execute(f"INSERT INTO {table} SELECT g, repeat('n', 60) "
                         "FROM generate_series(1, 60000) g")
            conn.execute(f"DELETE FROM {table} WHERE id % 2 = 0")
            conn.execute(f"VACUUM {table}")  # frees the space, keeps the pages
            conn.execute(f"ANALYZE {table}")
        conn.execute("GRANT SELECT ON notes_granted TO kasho_ops_monitor")
    config = storage_config(store_dsn, target, monitor_dsn(pg_cluster, fresh_database))
    with storage_collector(config) as collector:
        collect(collector, "bloat_estimate")
    rows = {r[0]: r[1:] for r in store_rows(store_dsn, """
        SELECT relname, kind, bloat_ratio, width_source, suppressed_reason
        FROM kasho_ops.bloat_estimate WHERE target = %s""", [target])}
    kind, ratio, source, reason = rows["notes_granted"]
    assert (kind, source, reason) == ("table", "column types and pg_stats", None)
    assert ratio == pytest.approx(0.5, abs=0.1)  # half the rows deleted
    kind, ratio, source, reason = rows["notes_hidden"]
    assert (ratio, source) == (None, None)
    assert reason == ("column body: pg_stats hides its statistics from this role "
                      "(no SELECT privilege on it)")
    # a bigint primary key needs no pg_stats: estimated either way
    assert rows["notes_hidden_pkey"][2] == "column types"


def test_exact_bloat_is_measured_audited_and_refused_unless_admin_and_enabled(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str) -> None:
    target = "exact-bloat"
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pgstattuple")
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY, note text) "
                     "WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO orders SELECT g, 'x' FROM generate_series(1, 10000) g")
        conn.execute("DELETE FROM orders WHERE id <= 2500")
    raw = {"store": {"dsn": store_dsn}, "dashboard": {"actions_enabled": False},
           "targets": [{"name": target, "dsn": monitor_dsn(pg_cluster, fresh_database)}]}
    off = parse_config(raw, environ={}, known_groups=set(load_catalog()))
    request = BloatRequest(target, fresh_database, "public", "orders", ADMIN)
    refused = measure_bloat(off, request)
    assert refused.outcome == "refused" and "actions_enabled" in refused.message
    on = storage_config(store_dsn, target, monitor_dsn(pg_cluster, fresh_database))
    denied = measure_bloat(on, BloatRequest(target, fresh_database, "public", "orders",
                                            OPERATOR))
    assert denied.outcome == "denied" and "needs the admin role" in denied.message
    measured = measure_bloat(on, request)
    assert measured.ok, measured.message
    assert measured.kind == "table" and measured.method == "pgstattuple"
    assert measured.dead_bytes and measured.live_bytes
    # a quarter of the rows deleted: a quarter of the row bytes are dead
    assert measured.dead_bytes / (measured.dead_bytes + measured.live_bytes) == pytest.approx(
        0.25, abs=0.01)
    index = measure_bloat(on, BloatRequest(target, fresh_database, "public", "orders_pkey",
                                           ADMIN))
    assert index.ok and index.method == "pgstatindex" and index.leaf_density
    missing = measure_bloat(on, BloatRequest(target, fresh_database, "public", "nope", ADMIN))
    assert missing.outcome == "refused" and "does not exist" in missing.message
    trail = store_rows(store_dsn, "SELECT actor_role, relname, outcome, method, "
                                  "round(dead_percent) FROM kasho_ops.bloat_measurements "
                                  "WHERE target = %s ORDER BY id", [target])
    assert trail == [("admin", "orders", "refused", None, None),
                     ("operator", "orders", "denied", None, None),
                     ("admin", "orders", "measured", "pgstattuple",
                      round(measured.dead_percent or 0)),
                     ("admin", "orders_pkey", "measured", "pgstatindex", None),
                     ("admin", "nope", "refused", None, None)]
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        store_rows(store_dsn, "DELETE FROM kasho_ops.bloat_measurements")
    # every statement the measurements sent was marked as Kasho Ops'
    assert unmarked_statements(pg_cluster, fresh_database) == []


def test_buffer_cache_where_installed_and_skipped_quietly_where_not(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str) -> None:
    without = storage_config(store_dsn, "no-buffercache",
                             monitor_dsn(pg_cluster, fresh_database))
    with storage_collector(without) as collector:
        (record,) = collect(collector, "buffer_cache")
    assert (record.error, record.rows_written) == (None, 0)
    with_it = storage_config(store_dsn, "buffercache", monitor_dsn(pg_cluster))  # postgres db
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS cached (id int)")
        conn.execute("INSERT INTO cached SELECT generate_series(1, 50000)")
        conn.execute("SELECT count(*) FROM cached")
    with storage_collector(with_it) as collector:
        collect(collector, "buffer_cache")
    rows = dict(store_rows(store_dsn, "SELECT relname, buffers FROM kasho_ops.buffer_cache "
                                      "WHERE target = 'buffercache' AND schemaname = 'public'"))
    assert rows["cached"] >= 200  # 50,000 ints: about 220 pages, read just now
    # a mapped catalog (relfilenode 0 in pg_class) is named through the relation mapper
    assert store_rows(store_dsn, "SELECT count(*) FROM kasho_ops.buffer_cache WHERE target = "
                                 "'buffercache' AND schemaname = 'pg_catalog' AND relname = "
                                 "'pg_class'") == [(1,)]
    total = store_rows(store_dsn, "SELECT round(sum(percent_of_cache)) FROM "
                                  "kasho_ops.buffer_cache WHERE target = 'buffercache'")
    assert total[0][0] <= 100
