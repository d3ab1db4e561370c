"""The I/O and checkpoint groups on each server major: pg_stat_bgwriter before 17,
pg_stat_checkpointer from 17, pg_stat_io from 16 (its bytes computed before 18, reported
from 18), and the newer pg_stat_statements columns. Assertions are on what the store holds
after controlled work."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from collectors.core.connections import TargetConnections
from collectors.core.metric_groups import load_catalog
from demo.cluster import LocalCluster
from tests.integration.collector_setup import (
    make_config,
    monitor_dsn,
    open_collector,
    write_config_file,
)

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"

NEW_GROUPS = ("checkpointer", "io_stats")


def store_rows(store_dsn: str, query: str, params: object = None) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute(query, params).fetchall()


def claims(sql_by_major: tuple[tuple[int, str], ...], major: int, server: int) -> bool:
    """True if the file for `major` is the one the engine would pick on `server`, or a
    newer server the test's major stands in for (18 for 16..18 of pg_stat_io)."""
    later = [m for m, _ in sql_by_major if m > major]
    return major <= server and (not later or min(later) > server or major >= 16)


def test_every_variant_claimed_here_runs_and_matches_its_store_table(
        pg_cluster: LocalCluster, store_dsn: str) -> None:
    config = make_config(store_dsn, {"local": monitor_dsn(pg_cluster)})
    connections = TargetConnections(config.targets[0], config.collector)
    catalog = load_catalog()
    ran = []
    try:
        for name in NEW_GROUPS:
            group = catalog[name]
            table = [r[0] for r in store_rows(
                store_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                "table_schema = 'kasho_ops' AND table_name = %s ORDER BY ordinal_position",
                [name])]
            # The selected file, and on 18 also 16.sql of pg_stat_io (16 and 17 have no
            # server here; that file computes bytes the same way on 18).
            variants = [(m, s) for m, s in group.sql_by_major
                        if s == group.sql_for(pg_cluster.major)
                        or (name == "io_stats" and 16 <= m <= pg_cluster.major)]
            for major, sql in variants:
                with connections.connection() as conn:
                    columns = [c.name for c in conn.execute(sql).description]  # type: ignore[arg-type, union-attr]
                assert ["collected_at", "target", "interval_seconds", *columns] == table, \
                    f"{name}/{major}"
                ran.append(f"{name}/{major}")
    finally:
        connections.close()
    expected = ({15: ["checkpointer/13", "io_stats/13"],
                 18: ["checkpointer/17", "io_stats/16", "io_stats/18"]})[pg_cluster.major]
    assert ran == expected


def checkpoint(conn: psycopg.Connection, major: int) -> None:
    """CHECKPOINT, and wait until the checkpointer's counters show it (it may report them
    just after the command returns). The count is read before the command: read after it,
    it may already hold this checkpoint, and the wait would run to its deadline."""
    view = ("SELECT num_requested FROM pg_stat_checkpointer" if major >= 17
            else "SELECT checkpoints_req FROM pg_stat_bgwriter")
    (before,) = conn.execute(view).fetchone()  # type: ignore[misc]
    conn.execute("CHECKPOINT")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        (now,) = conn.execute(view).fetchone()  # type: ignore[misc]
        if now > before:
            return
        time.sleep(0.05)


def test_a_checkpoint_and_its_writes_arrive_as_deltas_and_on_the_page(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = pg_cluster.dsn(fresh_database)
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster, fresh_database)})
    collector = open_collector(config, list(NEW_GROUPS))
    target = config.targets[0]
    try:
        with psycopg.connect(app, autocommit=True) as conn:
            checkpoint(conn, pg_cluster.major)  # nothing dirty left over from earlier tests
        for group in collector.groups:
            assert collector.collect(group, target).error is None  # the baseline
        with psycopg.connect(app, autocommit=True) as conn:
            conn.execute("CREATE TABLE filler AS SELECT g, repeat('x', 200) AS pad "
                         "FROM generate_series(1, 20000) g")  # about 600 dirty buffers
            checkpoint(conn, pg_cluster.major)
        for group in collector.groups:
            record = collector.collect(group, target)
            assert record.error is None, record.error
    finally:
        collector.close()
        collector.store.close()
    ((requested, written, backend),) = store_rows(
        fresh_store, "SELECT num_requested, buffers_written, buffers_backend "
                     "FROM kasho_ops.checkpointer")
    assert requested == 1
    assert written >= 500
    assert (backend is None) == (pg_cluster.major >= 17)  # in pg_stat_io from 17 on
    io = store_rows(fresh_store, "SELECT writes, write_bytes FROM kasho_ops.io_stats "
                                 "WHERE backend_type = 'checkpointer' AND object = 'relation' "
                                 "AND context = 'normal'")
    if pg_cluster.major < 16:
        assert store_rows(fresh_store, "SELECT count(*) FROM kasho_ops.io_stats") == [(0,)]
    else:
        ((writes, write_bytes),) = io
        assert writes >= 500 and write_bytes == writes * 8192

    st.cache_data.clear()
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"local": monitor_dsn(pg_cluster, fresh_database)})
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(config))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("features/io/page.py")
    at.query_params.update({"range": "1h", "target": "local"})
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "I/O and checkpoints"
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Checkpoints"] == "1"
    assert len(at.get("plotly_chart")) >= 3
    texts = " ".join(i.value for i in at.info)
    if pg_cluster.major < 16:
        assert "pg_stat_io exists from PostgreSQL 16 on" in texts
    else:
        table = at.dataframe[0].value
        checkpointer = table[(table["backend type"] == "checkpointer")
                             & (table["object"] == "relation")]
        assert len(checkpointer) == 1


def test_newer_statement_columns_are_filled_where_the_server_has_them(
        pg_cluster: LocalCluster, fresh_database: str, fresh_store: str) -> None:
    app = pg_cluster.dsn(fresh_database)
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    config = make_config(fresh_store, {"local": monitor_dsn(pg_cluster, fresh_database)})
    collector = open_collector(config, ["query_stats"])
    group, target = collector.groups[0], config.targets[0]
    try:
        assert collector.collect(group, target).error is None  # the baseline
        with psycopg.connect(app, autocommit=True) as conn:
            conn.execute("CREATE TABLE t_newcols AS SELECT g FROM generate_series(1, 1000) g")
        record = collector.collect(group, target)
        assert record.error is None, record.error
    finally:
        collector.close()
        collector.store.close()
    rows = store_rows(
        fresh_store, "SELECT q.wal_fpi, q.temp_blk_read_time_ms, q.local_blk_read_time_ms, "
        "q.wal_buffers_full, q.parallel_workers_launched FROM kasho_ops.query_stats q "
        "JOIN kasho_ops.query_texts t USING (target, queryid, dbid, userid) "
        "WHERE t.query LIKE 'CREATE TABLE t_newcols%' AND q.toplevel")
    assert len(rows) == 1
    fpi, temp_time, local_time, buffers_full, workers = rows[0]
    assert fpi is not None and temp_time is not None  # 13+ and 15+
    assert (local_time is not None) == (pg_cluster.major >= 17)
    assert (buffers_full is not None) == (workers is not None) == (pg_cluster.major >= 18)
