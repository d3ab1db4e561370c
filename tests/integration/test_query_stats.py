"""query_stats against real pg_stat_statements: exact deltas, texts once, resets, restarts,
and the missing-extension message."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector
from demo.cluster import LocalCluster, PgInstall
from tests.integration.collector_setup import make_config, monitor_dsn, open_collector
from tests.pg import free_port

LEDGER_QUERY = "SELECT count(*) FROM ledger WHERE account_id = %s"


def store_rows(store_dsn: str, query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()


def run_times(dsn: str, statement: str, times: int) -> None:
    """Run one statement exactly `times` times (bound parameters: one normalized entry)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(times):
            conn.execute(statement, [i])


def statement_id(admin_dsn: str, dbname: str, text_start: str) -> tuple[int, int, int]:
    """(queryid, dbid, userid) of the top-level entry whose text starts with `text_start`."""
    with psycopg.connect(admin_dsn) as conn:
        row = conn.execute(
            "SELECT queryid, dbid::bigint, userid::bigint FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = %s) "
            "AND toplevel AND query LIKE %s", [dbname, text_start + "%"]).fetchone()
    assert row is not None, f"{text_start!r} is not in pg_stat_statements"
    return row


def calls_stored(store_dsn: str, queryid: int, dbid: int) -> list[int]:
    return [r[0] for r in store_rows(
        store_dsn, "SELECT calls FROM kasho_ops.query_stats WHERE queryid = %s AND dbid = %s "
        "AND toplevel ORDER BY collected_at", [queryid, dbid])]


@pytest.fixture
def ledger_db(pg_cluster: LocalCluster, fresh_database: str) -> str:
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (account_id int, amount numeric)")
        conn.execute("INSERT INTO ledger SELECT g % 10, g FROM generate_series(1, 100) g")
    return fresh_database


@pytest.fixture
def query_collector(pg_cluster: LocalCluster, fresh_store: str) -> Iterator[Collector]:
    collector = open_collector(make_config(fresh_store, {"local": monitor_dsn(pg_cluster)}),
                               ["query_stats"])
    yield collector
    collector.close()
    collector.store.close()


def collect(collector: Collector) -> None:
    record = collector.collect(collector.groups[0], collector.config.targets[0])
    assert record.error is None, record.error


def test_calls_delta_is_exactly_what_ran_and_idle_statements_store_nothing(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str,
        query_collector: Collector) -> None:
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 2)
    run_times(app, "SELECT amount FROM ledger WHERE account_id = %s LIMIT 1", 3)
    queryid, dbid, userid = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    idle_id, _, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT amount")
    collect(query_collector)  # the baseline
    run_times(app, LEDGER_QUERY, 7)
    collect(query_collector)
    run_times(app, LEDGER_QUERY, 4)
    collect(query_collector)

    stored = store_rows(fresh_store, "SELECT calls, rows, interval_seconds > 0, "
                        "total_exec_time_ms > 0, shared_blks_hit > 0 FROM kasho_ops.query_stats "
                        "WHERE queryid = %s AND dbid = %s ORDER BY collected_at", [queryid, dbid])
    assert stored == [(7, 7, True, True, True), (4, 4, True, True, True)]
    assert store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.query_stats "
                      "WHERE queryid = %s", [idle_id]) == [(0,)]
    texts = store_rows(fresh_store, "SELECT datname, rolname, query FROM kasho_ops.query_texts "
                       "WHERE queryid = %s AND dbid = %s AND userid = %s",
                       [queryid, dbid, userid])
    assert texts == [(ledger_db, "postgres", "SELECT count(*) FROM ledger WHERE account_id = $1")]
    hourly = store_rows(fresh_store, "SELECT sum(calls), sum(samples) FROM "
                        "kasho_ops.query_stats_hourly WHERE queryid = %s AND dbid = %s",
                        [queryid, dbid])
    assert hourly == [(11, 2)]


def test_every_definition_this_server_can_run_gives_the_same_columns(
        pg_cluster: LocalCluster, store_dsn: str) -> None:
    group = load_catalog()["query_stats"]
    with psycopg.connect(monitor_dsn(pg_cluster)) as conn:
        server_major = conn.info.server_version // 10000
        # pg_stat_statements 1.11 (17) renamed blk_*_time, so the files for older servers
        # cannot run on 17+: on 15, 13.sql and 14.sql run (1.10); on 18, 17.sql and up.
        runnable = [sql for major, sql in group.sql_by_major
                    if major <= server_major and (major >= 17) == (server_major >= 17)]
        assert len(runnable) >= (2 if server_major < 17 else 1)
        columns = [[c.name for c in conn.execute(sql).description] for sql in runnable]
    assert all(c == columns[0] for c in columns)


def test_global_reset_counts_from_zero_never_negative_or_doubled(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str,
        query_collector: Collector) -> None:
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 50)
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    collect(query_collector)  # the baseline
    run_times(app, LEDGER_QUERY, 8)  # lost with the reset: never stored
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    run_times(app, LEDGER_QUERY, 60)  # more than before the reset: no backwards counter
    after_reset = query_collector.collect(query_collector.groups[0],
                                          query_collector.config.targets[0])
    assert "statistics reset" in (after_reset.note or "")
    run_times(app, LEDGER_QUERY, 3)
    collect(query_collector)
    assert calls_stored(fresh_store, queryid, dbid) == [60, 3]


def test_one_statement_reset_or_eviction_counts_from_zero(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str,
        query_collector: Collector) -> None:
    app = pg_cluster.dsn(ledger_db)
    run_times(app, LEDGER_QUERY, 20)
    queryid, dbid, userid = statement_id(pg_cluster.dsn(), ledger_db, "SELECT count(*)")
    collect(query_collector)  # the baseline
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:  # as an eviction would
        conn.execute("SELECT pg_stat_statements_reset(%s::oid, %s::oid, %s)",
                     [userid, dbid, queryid])
    run_times(app, LEDGER_QUERY, 5)  # 5 < 20: the counter went backwards
    collect(query_collector)
    run_times(app, LEDGER_QUERY, 6)
    collect(query_collector)
    assert calls_stored(fresh_store, queryid, dbid) == [5, 6]


def test_a_statement_first_seen_in_an_interval_counts_all_its_calls(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str,
        query_collector: Collector) -> None:
    collect(query_collector)  # the baseline
    run_times(pg_cluster.dsn(ledger_db), "SELECT max(amount) FROM ledger WHERE account_id = %s",
              9)
    collect(query_collector)
    queryid, dbid, _ = statement_id(pg_cluster.dsn(), ledger_db, "SELECT max(amount)")
    assert calls_stored(fresh_store, queryid, dbid) == [9]


def test_restart_gives_no_deltas_across_it_and_exact_ones_after(
        tmp_path: Path, fresh_store: str, pg_install: PgInstall) -> None:
    cluster = LocalCluster(tmp_path / "restarting", free_port(), install=pg_install)
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE ROLE mon LOGIN; GRANT pg_monitor TO mon")
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE TABLE ledger (account_id int, amount numeric)")
        config = make_config(fresh_store, {"restarting": cluster.dsn("postgres", "mon")})
        collector = open_collector(config, ["query_stats"])
        group, target = collector.groups[0], config.targets[0]
        try:
            run_times(cluster.dsn(), LEDGER_QUERY, 10)
            queryid, dbid, _ = statement_id(cluster.dsn(), "postgres", "SELECT count(*)")
            collect(collector)  # the baseline
            run_times(cluster.dsn(), LEDGER_QUERY, 5)
            cluster.restart()  # a clean restart keeps pg_stat_statements' counters (15 calls)
            cluster.wait_ready()
            across = collector.collect(group, target)
            assert across.rows_written == 0 and "restarted" in (across.note or "")
            run_times(cluster.dsn(), LEDGER_QUERY, 3)
            collect(collector)
            assert calls_stored(fresh_store, queryid, dbid) == [3]
        finally:
            collector.close()
            collector.store.close()
    finally:
        cluster.destroy()


def test_missing_extension_names_the_exact_fix(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str) -> None:
    config = make_config(fresh_store, {"bare": monitor_dsn(pg_cluster, fresh_database)})
    collector = open_collector(config, ["query_stats"])
    try:
        record = collector.collect(collector.groups[0], config.targets[0])
    finally:
        collector.close()
        collector.store.close()
    expected = (f"query_stats on bare: pg_stat_statements is not installed in database "
                f"{fresh_database}: run CREATE EXTENSION pg_stat_statements; there "
                "(postgresql.conf must also have shared_preload_libraries = "
                "'pg_stat_statements'; adding it needs a restart)")
    assert record.error == expected
    assert store_rows(fresh_store, "SELECT error FROM kasho_ops.collector_runs "
                      "WHERE metric_group = 'query_stats'") == [(expected,)]


def test_extension_not_preloaded_names_the_exact_fix(tmp_path: Path, fresh_store: str,
                                                     pg_install: PgInstall) -> None:
    cluster = LocalCluster(tmp_path / "no-preload", free_port(), install=pg_install,
                           settings={"shared_preload_libraries": "''"})
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        config = make_config(fresh_store, {"nopreload": cluster.dsn()})
        collector = open_collector(config, ["query_stats"])
        try:
            record = collector.collect(collector.groups[0], config.targets[0])
        finally:
            collector.close()
            collector.store.close()
        assert record.error == (
            "query_stats on nopreload: pg_stat_statements is not preloaded: add "
            "shared_preload_libraries = 'pg_stat_statements' to postgresql.conf and restart "
            "PostgreSQL (CREATE EXTENSION pg_stat_statements; is already done in database "
            "postgres)")
    finally:
        cluster.destroy()


def test_evictions_are_counted_exactly(tmp_path: Path, fresh_store: str,
                                       pg_install: PgInstall) -> None:
    cluster = LocalCluster(tmp_path / "small", free_port(), install=pg_install,
                           settings={"pg_stat_statements.max": "100"})
    cluster.start()
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
            conn.execute("CREATE TABLE t (" + ", ".join(f"c{i} int" for i in range(30)) + ")")
        config = make_config(fresh_store, {"small": cluster.dsn()})
        collector = open_collector(config, ["query_stats_info"])
        group, target = collector.groups[0], config.targets[0]
        try:
            for _ in range(20):  # the collector's own statements are used most: never evicted
                assert collector.collect(group, target).error is None
            with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
                (before,) = conn.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()
                for a in range(30):  # 435 distinct statements into 100 slots
                    for b in range(a + 1, 30):
                        conn.execute(f"SELECT c{a}, c{b} FROM t")
                (after,) = conn.execute("SELECT dealloc FROM pg_stat_statements_info").fetchone()
            collect(collector)
        finally:
            collector.close()
            collector.store.close()
        assert after > before
        stored = [r[0] for r in store_rows(fresh_store, "SELECT dealloc FROM "
                                           "kasho_ops.query_stats_info WHERE target = 'small' "
                                           "ORDER BY collected_at")]
        assert stored[-1] == after - before and sum(stored) == after - before
    finally:
        cluster.destroy()


PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def test_pgbench_workload_gives_exact_calls_per_statement(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str, query_collector: Collector,
        tmp_path: Path) -> None:
    script = tmp_path / "payments.sql"
    script.write_text("\\set account random(0, 9)\n"
                      "SELECT count(*) FROM ledger WHERE account_id = :account;\n"
                      "UPDATE ledger SET amount = amount + 1 WHERE account_id = :account;\n")
    collect(query_collector)  # the baseline
    subprocess.run([PGBENCH, "-n", "-c", "2", "-t", "60", "-f", str(script),
                    pg_cluster.dsn(ledger_db)], check=True, capture_output=True, timeout=120)
    collect(query_collector)
    stored = store_rows(fresh_store, "SELECT t.query, s.calls FROM kasho_ops.query_stats s "
                        "JOIN kasho_ops.query_texts t USING (target, queryid, dbid, userid) "
                        "WHERE t.datname = %s AND s.toplevel ORDER BY 1", [ledger_db])
    assert stored == [("SELECT count(*) FROM ledger WHERE account_id = $1", 120),
                      ("UPDATE ledger SET amount = amount + $1 WHERE account_id = $2", 120)]


def test_literals_left_in_normalized_texts_are_masked_before_storing(
        pg_cluster: LocalCluster, ledger_db: str, fresh_store: str,
        query_collector: Collector) -> None:
    collect(query_collector)  # the baseline
    with psycopg.connect(pg_cluster.dsn(ledger_db), autocommit=True) as conn:
        conn.execute("CREATE ROLE leaky_app LOGIN PASSWORD 'hunter2-not-normalized'")
        conn.execute("DROP ROLE leaky_app")
    collect(query_collector)
    texts = [r[0] for r in store_rows(fresh_store, "SELECT query FROM kasho_ops.query_texts")]
    assert "CREATE ROLE leaky_app LOGIN PASSWORD '?'" in texts
    assert not any("hunter2" in t for t in texts)


def test_an_outdated_extension_names_the_update(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str) -> None:
    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements VERSION '1.8'")  # no _info view
    config = make_config(fresh_store, {"old": monitor_dsn(pg_cluster, fresh_database)})
    collector = open_collector(config, ["query_stats"])
    try:
        record = collector.collect(collector.groups[0], config.targets[0])
    finally:
        collector.close()
        collector.store.close()
    # 14.sql needs pg_stat_statements_info (1.9); 17.sql the toplevel column (1.9) first.
    missing = ('relation "pg_stat_statements_info" does not exist' if pg_cluster.major < 17
               else "column s.toplevel does not exist")
    assert record.error == (
        f"query_stats on old: the pg_stat_statements extension in database {fresh_database} "
        f"is older than this definition needs ({missing}): run ALTER EXTENSION "
        "pg_stat_statements UPDATE; there")
