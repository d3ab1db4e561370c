"""The activity groups against real situations: sessions idle in a transaction, a long
query, a lock chain three sessions deep, a prepared transaction, and per-database deadlocks
and temp files as counter deltas. Every assertion is on what the store holds."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from collectors.core.connections import TargetConnections
from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector
from demo.cluster import LocalCluster
from tests.integration.activity_setup import lock_chain, prepared_xacts_cluster, wait_for_session
from tests.integration.collector_setup import make_config, monitor_dsn, open_collector
from tests.pg import HeldSession, held_sessions

ACTIVITY_GROUPS = ["session_ages", "wait_events", "lock_waits", "prepared_transactions"]


def store_rows(store_dsn: str, query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()


def collect(collector: Collector, *groups: str) -> None:
    by_name = {g.name: g for g in collector.groups}
    for name in groups:
        record = collector.collect(by_name[name], collector.config.targets[0])
        assert record.error is None, record.error


@pytest.fixture
def activity_collector(pg_cluster: LocalCluster, fresh_database: str,
                       fresh_store: str) -> Iterator[Collector]:
    """Collects the activity groups from the test's own database (relation names resolve)."""
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster, fresh_database)})
    collector = open_collector(config, ACTIVITY_GROUPS)
    yield collector
    collector.close()
    collector.store.close()


def test_idle_in_transaction_sessions_and_a_long_query_are_stored_exactly(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        activity_collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with held_sessions(dsn, 4) as (idle_tx_1, idle_tx_2, sleeper, idle):
        idle_tx_1.execute("BEGIN")
        idle_tx_1.execute("SELECT 1")
        idle_tx_2.execute("BEGIN")
        idle_tx_2.execute("SELECT 1")
        idle.execute("SELECT 1")
        sleeper.execute_in_background("SELECT pg_sleep(60)")
        wait_for_session(pg_cluster.dsn(), sleeper.pid, state="active",
                         wait_event_type="Timeout")
        time.sleep(1.1)  # every age below is now at least one second
        collect(activity_collector, "session_ages", "wait_events")
    (row,) = store_rows(fresh_store, """
        SELECT active, idle_in_transaction, waiting_on_lock,
               longest_idle_in_transaction_seconds, longest_query_seconds,
               longest_transaction_seconds
        FROM kasho_ops.session_ages WHERE datname = %s""", [fresh_database])
    active, idle_in_tx, waiting, idle_tx_age, query_age, xact_age = row
    assert (active, idle_in_tx, waiting) == (1, 2, 0)
    assert 1.0 <= idle_tx_age < 120
    assert 1.0 <= query_age < 120
    # The oldest transaction is the older of the idle ones or the sleeper's statement.
    assert xact_age >= max(idle_tx_age, query_age)
    sleeping = store_rows(fresh_store, """
        SELECT backend_type, sessions FROM kasho_ops.wait_events
        WHERE wait_event_type = 'Timeout' AND wait_event = 'PgSleep'""")
    assert sleeping == [("client backend", 1)]
    assert store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.lock_waits") == [(0,)]


def test_lock_chain_three_deep_is_stored_with_blockers_depth_and_root(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        activity_collector: Collector) -> None:
    with lock_chain(pg_cluster, fresh_database) as chain:
        time.sleep(0.2)
        collect(activity_collector, "lock_waits", "session_ages")
        a, b, c = chain.a.pid, chain.b.pid, chain.c.pid
    rows = store_rows(fresh_store, """
        SELECT pid, datname, usename, application_name, client_addr, locktype, mode, relation,
               blocking_pids, root_blocker_pid, chain_depth, root_blocker_state,
               root_blocker_application_name
        FROM kasho_ops.lock_waits WHERE target = 'local' ORDER BY chain_depth""")
    assert rows == [
        (b, fresh_database, "postgres", "chain-b", "127.0.0.1", "relation", "ShareLock",
         "accounts", [a], a, 1, "idle in transaction", "chain-a"),
        (c, fresh_database, "postgres", "chain-c", "127.0.0.1", "relation", "AccessShareLock",
         "ledger", [b], a, 2, "idle in transaction", "chain-a"),
    ]
    ((b_wait, b_xact, root_xact), (c_wait, c_xact, _)) = store_rows(fresh_store, """
        SELECT wait_seconds, transaction_seconds, root_blocker_transaction_seconds
        FROM kasho_ops.lock_waits ORDER BY chain_depth""")
    assert b_wait >= c_wait > 0  # B started waiting before C did
    assert root_xact >= b_xact >= b_wait  # A's transaction began first, B's before its wait
    assert c_xact >= c_wait
    ages = store_rows(fresh_store, "SELECT active, idle_in_transaction, waiting_on_lock "
                      "FROM kasho_ops.session_ages WHERE datname = %s", [fresh_database])
    assert ages == [(2, 1, 2)]  # B and C run a (waiting) statement; A sits idle in its tx


def test_a_queue_behind_one_lock_is_depth_one_for_everyone(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        activity_collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("CREATE TABLE ledger (id int)")
    with held_sessions(dsn, 6) as (holder, *queue):
        holder.execute("BEGIN")
        holder.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
        for session in queue:  # one at a time, so the queue order is known
            session.execute("BEGIN")
            session.execute_in_background("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
            wait_for_session(pg_cluster.dsn(), session.pid, wait_event_type="Lock")
        collect(activity_collector, "lock_waits")
        holder.execute("ROLLBACK")
        for session in queue:  # each gets the lock in turn and lets the next one have it
            session.join()
            session.execute("ROLLBACK")
    rows = store_rows(fresh_store, "SELECT pid, blocking_pids, root_blocker_pid, chain_depth "
                      "FROM kasho_ops.lock_waits")
    # Each waiter is blocked by the holder and by everyone queued ahead of it, and is one
    # hop from the root: the holder blocks it directly.
    assert sorted((pid, sorted(blockers), root, depth) for pid, blockers, root, depth in rows) \
        == sorted((s.pid, sorted([holder.pid] + [q.pid for q in queue[:i]]), holder.pid, 1)
                  for i, s in enumerate(queue))


def test_a_wait_cycle_is_stored_without_a_root_and_the_query_ends(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str,
        activity_collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
        admin.execute("INSERT INTO accounts VALUES (1, 100), (2, 100)")
    with held_sessions(dsn, 2) as (first, second):
        for session, row in ((first, 1), (second, 2)):
            session.execute("SET deadlock_timeout = '10min'")  # keep the cycle standing
            session.execute("BEGIN")
            session.execute("UPDATE accounts SET balance = 0 WHERE id = %s", [row])
        first.execute_in_background("UPDATE accounts SET balance = 1 WHERE id = 2")
        wait_for_session(pg_cluster.dsn(), first.pid, wait_event_type="Lock")
        second.execute_in_background("UPDATE accounts SET balance = 1 WHERE id = 1")
        wait_for_session(pg_cluster.dsn(), second.pid, wait_event_type="Lock")
        collect(activity_collector, "lock_waits")
    rows = store_rows(fresh_store, "SELECT pid, blocking_pids, root_blocker_pid, chain_depth, "
                      "root_blocker_state FROM kasho_ops.lock_waits ORDER BY pid")
    assert rows == sorted([(first.pid, [second.pid], None, None, ""),
                           (second.pid, [first.pid], None, None, "")])


def test_relation_in_another_database_is_named_by_oid_not_guessed(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str) -> None:
    # Connected to `postgres`, an oid from the test database must not be resolved there:
    # it could name an unrelated table.
    config = make_config(store_dsn, {"elsewhere": monitor_dsn(pg_cluster, "postgres")})
    collector = open_collector(config, ["lock_waits"])
    try:
        with lock_chain(pg_cluster, fresh_database) as chain:
            with psycopg.connect(pg_cluster.dsn(fresh_database)) as conn:
                oids = dict(conn.execute("SELECT relname, oid::int FROM pg_class "
                                         "WHERE relname IN ('accounts', 'ledger')").fetchall())
            rows = collector.engine.read(collector.groups[0], config.targets[0]).rows
            by_pid = {r["pid"]: r["relation"] for r in rows}
            assert by_pid == {chain.b.pid: f"oid {oids['accounts']}",
                              chain.c.pid: f"oid {oids['ledger']}"}
    finally:
        collector.close()
        collector.store.close()


def test_prepared_transaction_is_counted_and_shown_as_root_blocker_pid_0(
        store_dsn: str) -> None:
    with prepared_xacts_cluster() as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
            conn.execute("INSERT INTO accounts VALUES (1, 100)")
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("BEGIN")
            conn.execute("UPDATE accounts SET balance = 90 WHERE id = 1")
            conn.execute("PREPARE TRANSACTION 'transfer-42'")
        config = make_config(store_dsn, {"twophase": monitor_dsn(cluster)})
        collector = open_collector(config, ["lock_waits", "prepared_transactions"])
        waiter = HeldSession(cluster.dsn(), "row-waiter")
        try:
            waiter.execute_in_background("UPDATE accounts SET balance = 80 WHERE id = 1")
            wait_for_session(cluster.dsn(), waiter.pid, wait_event_type="Lock")
            time.sleep(1.1)
            collect(collector, "lock_waits", "prepared_transactions")
            with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
                conn.execute("ROLLBACK PREPARED 'transfer-42'")
            waiter.join()
            collect(collector, "prepared_transactions")
        finally:
            waiter.close()
            collector.close()
            collector.store.close()
    waits = store_rows(store_dsn, """
        SELECT pid, locktype, mode, relation, blocking_pids, root_blocker_pid, chain_depth,
               root_blocker_state, root_blocker_application_name,
               root_blocker_transaction_seconds
        FROM kasho_ops.lock_waits WHERE target = 'twophase'""")
    # A row-lock wait is on the prepared transaction's xid; the table comes from the tuple
    # lock the waiter holds.
    assert waits == [(waiter.pid, "transactionid", "ShareLock", "accounts", [0], 0, 1,
                      "prepared transaction", "", None)]
    prepared = store_rows(store_dsn, """
        SELECT max_prepared_transactions, prepared, oldest_seconds >= 1.0, oldest_datname
        FROM kasho_ops.prepared_transactions WHERE target = 'twophase'
        ORDER BY collected_at""")
    assert prepared == [(5, 1, True, "postgres"), (5, 0, False, "")]


def test_shared_cluster_without_two_phase_commit_reports_zero_prepared(
        pg_cluster: LocalCluster, fresh_store: str) -> None:
    collector = open_collector(make_config(fresh_store, {"local": monitor_dsn(pg_cluster)}),
                               ["prepared_transactions"])
    try:
        collect(collector, "prepared_transactions")
    finally:
        collector.close()
        collector.store.close()
    assert store_rows(fresh_store, "SELECT max_prepared_transactions, prepared, "
                      "oldest_seconds, oldest_datname FROM kasho_ops.prepared_transactions") \
        == [(0, 0, 0.0, "")]


def test_deadlock_and_temp_file_arrive_as_per_database_deltas(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
        conn.execute("INSERT INTO accounts VALUES (1, 100), (2, 100)")
    collector = open_collector(make_config(fresh_store, {"local": monitor_dsn(pg_cluster)}),
                               ["database_stats"])
    group, target = collector.groups[0], collector.config.targets[0]
    try:
        time.sleep(1.1)  # let the setup's statistics flush before the baseline
        assert collector.collect(group, target).error is None  # the baseline
        first, second = HeldSession(dsn, "deadlock-1"), HeldSession(dsn, "deadlock-2")
        try:
            first.execute("BEGIN")
            first.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
            second.execute("BEGIN")
            second.execute("UPDATE accounts SET balance = balance - 1 WHERE id = 2")
            first.execute_in_background("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
            wait_for_session(pg_cluster.dsn(), first.pid, wait_event_type="Lock")
            try:
                second.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
                second_error = None
            except psycopg.Error as exc:
                second_error = exc
            first.join()
            # Whichever session's deadlock_timeout fires first is the victim: exactly one.
            victims = [e for e in (first.error, second_error)
                       if isinstance(e, psycopg.errors.DeadlockDetected)]
            assert len(victims) == 1, (first.error, second_error)
            second.execute("ROLLBACK")
            first.execute("ROLLBACK")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("SET work_mem = '64kB'")
                conn.execute("SELECT g FROM generate_series(1, 200000) g ORDER BY g DESC "
                             "LIMIT 1")
        finally:
            first.close()
            second.close()
        wait_for_stats(pg_cluster.dsn(), fresh_database, deadlocks=1)
        record = collector.collect(group, target)
        assert record.error is None, record.error
    finally:
        collector.close()
        collector.store.close()
    rows = store_rows(fresh_store, "SELECT deadlocks, temp_files, temp_bytes > 0, "
                      "xact_rollback >= 2, conflicts FROM kasho_ops.database_stats "
                      "WHERE datname = %s", [fresh_database])
    assert rows == [(1, 1, True, True, 0)]


def wait_for_stats(admin_dsn: str, dbname: str, deadlocks: int, timeout: float = 15) -> None:
    """Setup: wait until the exited backends' statistics reached pg_stat_database."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            conn.execute("SELECT pg_stat_clear_snapshot()")
            seen = conn.execute("SELECT deadlocks, temp_files FROM pg_stat_database "
                                "WHERE datname = %s", [dbname]).fetchone()
            if seen and seen[0] >= deadlocks and seen[1] >= 1:
                return
            time.sleep(0.1)
    raise AssertionError(f"statistics of {dbname} never showed {deadlocks} deadlocks")


def test_every_variant_of_the_activity_definitions_runs_here_and_matches_its_table(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str) -> None:
    # The engine runs one variant per server; older variants must stay valid and keep the
    # same columns, so they are run here too (with a real lock wait, so no branch is idle).
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster, fresh_database)})
    connections = TargetConnections(config.targets[0], config.collector)
    catalog = load_catalog()
    try:
        with lock_chain(pg_cluster, fresh_database):
            for name in ACTIVITY_GROUPS:
                table = [r[0] for r in store_rows(
                    store_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                    "table_schema = 'kasho_ops' AND table_name = %s "
                    "ORDER BY ordinal_position", [name])]
                for major, sql in catalog[name].sql_by_major:
                    with connections.connection() as conn:
                        cursor = conn.execute(sql)  # type: ignore[arg-type]
                        columns = [c.name for c in cursor.description]
                        rows = cursor.fetchall()
                    assert ["collected_at", "target", *columns] == table, f"{name}/{major}"
                    if name == "lock_waits":
                        assert len(rows) == 2, f"{name}/{major}"
    finally:
        connections.close()
