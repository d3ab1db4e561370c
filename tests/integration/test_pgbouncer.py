"""A target of kind pgbouncer: Debian's PgBouncer in front of the test cluster, a pool held
full by real transactions, a client waiting for it; every assertion is on the store."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.core.config import Config, parse_config
from collectors.core.metric_groups import load_catalog
from demo.cluster import LocalCluster
from demo.pgbouncer import LocalPgBouncer
from tests.conftest import MONITOR_ROLE
from tests.integration.collector_setup import monitor_dsn, open_collector
from tests.pg import HeldSession, free_port
from tests.shown import shown

# PgBouncer sits in front of the server; its console does not depend on the server version.
pytestmark = pytest.mark.single_major

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
APP_ROLE = "postgres"
POOL_SIZE = 2
BOUNCER_GROUPS = [name for name, g in load_catalog().items() if g.target_kind == "pgbouncer"]


@pytest.fixture
def bouncer(pg_cluster: LocalCluster, fresh_database: str) -> Iterator[LocalPgBouncer]:
    # Its own directory under the system temp dir: PgBouncer runs as another OS user.
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-pgbouncer-"))
    pgbouncer = LocalPgBouncer(base, free_port(), pg_cluster.port, [fresh_database],
                               users=[APP_ROLE, MONITOR_ROLE], stats_users=[MONITOR_ROLE],
                               default_pool_size=POOL_SIZE)
    pgbouncer.start()
    yield pgbouncer
    pgbouncer.stop()
    shutil.rmtree(base, ignore_errors=True)


def bouncer_config(store_dsn: str, pg_cluster: LocalCluster, bouncer: LocalPgBouncer) -> Config:
    raw = {"store": {"dsn": store_dsn},
           "targets": [{"name": "kasho", "dsn": monitor_dsn(pg_cluster)},
                       {"name": "kasho-pool", "kind": "pgbouncer", "fronts": "kasho",
                        "dsn": bouncer.admin_dsn(MONITOR_ROLE)}]}
    return parse_config(raw, environ={}, known_groups=set(load_catalog()))


def store_rows(store_dsn: str, query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()


def wait_until_waiting(admin_dsn: str, dbname: str, seconds: float = 0.3) -> None:
    """Until one client has waited at least `seconds` for a server connection."""
    deadline = time.monotonic() + 15
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            for row in conn.execute("SHOW POOLS", prepare=False).fetchall():
                if row[0] == dbname and row[3] == 1 and row[13] + row[14] / 1e6 >= seconds:
                    return
            time.sleep(0.05)
    raise AssertionError("no client waited for the pool")


def test_full_pool_waiting_client_and_server_connections_are_stored_and_shown(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        bouncer: LocalPgBouncer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = bouncer_config(fresh_store, pg_cluster, bouncer)
    collector = open_collector(config)
    app = bouncer.dsn(fresh_database, APP_ROLE)
    holders = [HeldSession(app) for _ in range(POOL_SIZE)]
    waiter = HeldSession(app)
    try:
        for holder in holders:  # transaction pooling: a server is held until COMMIT
            holder.execute("BEGIN")
            holder.execute("SELECT 1")
        waiter.execute_in_background("SELECT 1")
        wait_until_waiting(bouncer.admin_dsn(MONITOR_ROLE), fresh_database)
        records = collector.run_once()
    finally:
        for holder in holders:
            holder.execute("COMMIT")
            holder.close()
        waiter.join()
        waiter.close()
        collector.close()
        collector.store.close()
    by_target = {(r.target, r.metric_group): r.error for r in records}
    assert {g for t, g in by_target if t == "kasho-pool"} == set(BOUNCER_GROUPS)
    assert not {g for t, g in by_target if t == "kasho"} & set(BOUNCER_GROUPS)
    assert [e for (t, _), e in by_target.items() if t == "kasho-pool" and e] == []

    ((cl_active, cl_waiting, sv_active, maxwait, mode),) = store_rows(
        fresh_store, "SELECT cl_active, cl_waiting, sv_active, maxwait_seconds, pool_mode "
        "FROM kasho_ops.pgbouncer_pools WHERE database = %s", [fresh_database])
    assert (cl_active, cl_waiting, sv_active, mode) == (POOL_SIZE, 1, POOL_SIZE, "transaction")
    assert maxwait >= 0.3
    clients = store_rows(fresh_store, "SELECT state, clients, longest_wait_seconds "
                         "FROM kasho_ops.pgbouncer_clients WHERE database = %s ORDER BY 1",
                         [fresh_database])
    assert [(state, n) for state, n, _ in clients] == [("active", POOL_SIZE), ("waiting", 1)]
    assert clients[1][2] >= 0.3
    assert store_rows(fresh_store, "SELECT state, servers FROM kasho_ops.pgbouncer_servers "
                      "WHERE database = %s", [fresh_database]) == [("active", POOL_SIZE)]
    assert store_rows(fresh_store, "SELECT server_database, pool_size, current_connections "
                      "FROM kasho_ops.pgbouncer_databases WHERE name = %s",
                      [fresh_database]) == [(fresh_database, POOL_SIZE, POOL_SIZE)]

    # The Connections page of the server shows its pools beside its own view.
    st.cache_data.clear()
    config_file = tmp_path / "k.toml"
    config_file.write_text(
        f'[store]\ndsn = "{fresh_store}"\n\n[[targets]]\nname = "kasho"\n'
        f'dsn = "{monitor_dsn(pg_cluster)}"\n\n[[targets]]\nname = "kasho-pool"\n'
        f'kind = "pgbouncer"\nfronts = "kasho"\ndsn = "{bouncer.admin_dsn(MONITOR_ROLE)}"\n')
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config_file))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("features/connections/page.py")
    at.query_params.update({"range": "1h", "target": "kasho"})
    at.run()
    assert not at.exception, at.exception
    assert "PgBouncer kasho-pool" in [shown(h.value) for h in at.subheader]
    assert any(f"Pool {fresh_database}/{APP_ROLE} is 100% busy" in shown(w.value)
               for w in at.warning)
    tiles = {shown(m.label): shown(m.value) for m in at.metric}
    assert (tiles["Busiest pool"], tiles["Clients waiting"]) == ("100%", "1")
    pools = at.dataframe[-1].value
    assert list(pools["pool"]) == [f"{fresh_database}/{APP_ROLE}"]
    assert list(pools["saturation"]) == [1.0]


def wait_for_query_count(admin_dsn: str, dbname: str, count: int) -> None:
    """PgBouncer adds a query to its totals just after answering it: wait for the total."""
    deadline = time.monotonic() + 15
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            totals = {row[0]: row[2] for row in conn.execute("SHOW STATS", prepare=False)}
            if totals.get(dbname, 0) >= count:
                return
            time.sleep(0.05)
    raise AssertionError(f"SHOW STATS never counted {count} queries for {dbname}")


def test_stats_are_per_interval_deltas_of_what_went_through(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        bouncer: LocalPgBouncer) -> None:
    config = bouncer_config(fresh_store, pg_cluster, bouncer)
    collector = open_collector(config, ["pgbouncer_stats"])
    group, target = collector.groups[0], config.target("kasho-pool")
    try:
        admin = bouncer.admin_dsn(MONITOR_ROLE)
        with psycopg.connect(bouncer.dsn(fresh_database, APP_ROLE), autocommit=True) as app:
            app.execute("SELECT 1")  # the database's first use: in SHOW STATS from now on
            wait_for_query_count(admin, fresh_database, 1)
            assert collector.collect(group, target).error is None  # the baseline
            for _ in range(12):
                # unprepared: psycopg's auto-prepare would add a Parse round trip (a query)
                app.execute("SELECT pg_sleep(0.01)", prepare=False)
            wait_for_query_count(admin, fresh_database, 13)
        record = collector.collect(group, target)
        assert record.error is None, record.error
    finally:
        collector.close()
        collector.store.close()
    ((xacts, queries, query_us, interval),) = store_rows(
        fresh_store, "SELECT total_xact_count, total_query_count, total_query_time_us, "
        "interval_seconds FROM kasho_ops.pgbouncer_stats WHERE database = %s",
        [fresh_database])
    assert (xacts, queries) == (12, 12)
    assert query_us >= 12 * 10_000  # each slept 10 ms on the server
    assert interval > 0


def test_console_refuses_what_postgres_sessions_send_so_the_kind_sends_none_of_it(
        fresh_database: str, bouncer: LocalPgBouncer) -> None:
    # The reason the pgbouncer kind exists: the postgres session's options are refused.
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(bouncer.admin_dsn(MONITOR_ROLE), options="-c statement_timeout=5000")
