"""The business groups against a seeded Kasho database: exact money, incremental reads that
survive restarts and cron runs, the business role's limits, and enum-typed columns."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from collectors.core.connections import TargetConnections
from collectors.core.scheduler import Collector
from collectors.core.store import MetricStore
from demo.cluster import LocalCluster
from tests.conftest import KashoDatabase
from tests.integration.business_setup import (
    BUSINESS_GROUPS,
    INCREMENTAL_GROUPS,
    business_config,
    business_engine,
    business_group,
    run_until_caught_up,
    store_rows,
    watermark_span,
)
from tests.integration.collector_setup import make_config, monitor_dsn, write_config_file

# Independent of the collector's SQL: one row per event a transaction must have been counted
# as, given the span the stored windows cover; then summed.
EXPECTED_EVENTS = """
    WITH events AS (
        SELECT CASE WHEN t.updated_at > t.created_at THEN 'created_changed' ELSE 'created'
               END AS event, t.transaction_type, t.status, a.currency, t.amount
        FROM transactions t JOIN accounts a ON a.id = t.account_id
        WHERE t.created_at > %(first)s AND t.created_at <= %(last)s
        UNION ALL
        SELECT 'changed', t.transaction_type, t.status, a.currency, t.amount
        FROM transactions t JOIN accounts a ON a.id = t.account_id
        WHERE t.updated_at > %(first)s AND t.updated_at <= %(last)s
          AND t.updated_at > t.created_at)
    SELECT event, transaction_type, status, currency, count(*), sum(amount)
    FROM events GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""
STORED_EVENTS = """
    SELECT event, transaction_type, status, currency, sum(transactions)::bigint, sum(amount)
    FROM kasho_ops.business_transactions GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""


def kasho_rows(dsn: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def windows(store_dsn: str, group: str) -> dict[str, list[Any]]:
    rows = store_rows(store_dsn, "SELECT window_start, watermark FROM "
                                 "kasho_ops.incremental_watermarks WHERE metric_group = %s "
                                 "ORDER BY watermark", [group])
    return {"starts": [r[0] for r in rows], "ends": [r[1] for r in rows],
            "first": rows[0][0], "last": rows[-1][1]}


def expected_events(kasho: KashoDatabase, store_dsn: str) -> list[tuple[Any, ...]]:
    return kasho_rows(kasho.admin_dsn, EXPECTED_EVENTS, windows(store_dsn,
                                                               "business_transactions"))


def test_every_business_definition_runs_as_the_business_role_and_matches_its_store_table(
        kasho_database: KashoDatabase, store_dsn: str) -> None:
    config = business_config(store_dsn, kasho_database.business_dsn,
                             kasho_database.business_dsn)
    connections = TargetConnections(config.targets[0], config.collector)
    window = {"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"}
    try:
        for name in BUSINESS_GROUPS:
            group = business_group(name)
            with connections.connection() as conn:
                cursor = conn.execute(group.sql_for(conn.info.server_version // 10000),
                                      window if group.incremental else None)
                columns = [c.name for c in cursor.description or ()]
                assert cursor.fetchall(), name
            table_columns = [r[0] for r in store_rows(
                store_dsn, "SELECT column_name FROM information_schema.columns WHERE "
                "table_schema = 'kasho_ops' AND table_name = %s ORDER BY ordinal_position",
                [group.store_table])]
            assert table_columns == ["collected_at", "target", *columns], name
    finally:
        connections.close()


def test_first_runs_read_back_eight_days_two_per_run_and_count_every_transaction_once(
        pg_cluster: LocalCluster, kasho_database: KashoDatabase, fresh_store: str) -> None:
    config = business_config(fresh_store, monitor_dsn(pg_cluster), kasho_database.business_dsn)
    with business_engine(config) as engine:
        records = run_until_caught_up(engine, config, business_group("business_transactions"))
    assert len(records) == 4  # 8 days back from the first run, in windows of 2 days
    spans = store_rows(fresh_store, "SELECT watermark - window_start FROM "
                                    "kasho_ops.incremental_watermarks ORDER BY watermark")
    assert [span for (span,) in spans] == [timedelta(days=2)] * 4
    first, last = watermark_span(fresh_store, "business_transactions")
    assert last - first == timedelta(days=8)
    # Windows tile time: each starts where the previous ended.
    starts = windows(fresh_store, "business_transactions")
    assert starts["starts"][1:] == starts["ends"][:-1]
    stored = store_rows(fresh_store, STORED_EVENTS)
    assert stored == expected_events(kasho_database, fresh_store)
    created = sum(count for event, *_, count, _ in stored if event.startswith("created"))
    assert created == kasho_rows(kasho_database.admin_dsn,
                                 "SELECT count(*) FROM transactions WHERE created_at > %s "
                                 "AND created_at <= %s", [first, last])[0][0] > 1000
    assert {row[0] for row in stored} == {"created", "created_changed", "changed"}
    assert all(isinstance(amount, Decimal) for *_, amount in stored)


def insert_transactions(kasho: KashoDatabase, count: int, at: Any) -> Decimal:
    """`count` card payments stamped `at` on USD accounts; their total amount."""
    with psycopg.connect(kasho.admin_dsn, autocommit=True) as conn:
        return Decimal(conn.execute(
            "WITH new AS (INSERT INTO transactions (id, account_id, transaction_type, amount, "
            "status, created_at, updated_at) SELECT gen_random_uuid(), a.id, 'card_payment', "
            "12.3456 + n, 'completed', %s, %s FROM generate_series(1, %s) n "
            "JOIN LATERAL (SELECT id FROM accounts WHERE currency = 'USD' ORDER BY id "
            "OFFSET n LIMIT 1) a ON true RETURNING amount) SELECT sum(amount) FROM new",
            [at, at, count]).fetchone()[0])


def test_a_restarted_collector_continues_from_the_stored_watermark(
        pg_cluster: LocalCluster, kasho_copy: KashoDatabase, fresh_store: str) -> None:
    """A new Engine is a new process: it knows nothing but the store."""
    config = business_config(fresh_store, monitor_dsn(pg_cluster), kasho_copy.business_dsn)
    group = business_group("business_transactions", settle_seconds=0)
    with business_engine(config) as engine:
        run_until_caught_up(engine, config, group)
    _, watermark = watermark_span(fresh_store, group.name)
    before = store_rows(fresh_store, STORED_EVENTS)
    added = insert_transactions(kasho_copy, 7, watermark + timedelta(milliseconds=1))
    with psycopg.connect(kasho_copy.admin_dsn, autocommit=True) as conn:  # settle two
        settled = conn.execute(
            "UPDATE transactions t SET status = 'completed' FROM accounts a WHERE a.id = "
            "t.account_id AND t.id IN (SELECT id FROM transactions WHERE status = 'pending' "
            "ORDER BY id LIMIT 2) RETURNING t.amount, a.currency").fetchall()
    with business_engine(config) as restarted:
        record = restarted.run(group, config.targets[0])
    assert record.error is None
    after = store_rows(fresh_store, STORED_EVENTS)
    # Exactly the 7 new payments and the 2 settlements were added, nothing read twice.
    counts_before = {row[:4]: row[4:] for row in before}
    added_rows = {row[:4]: (row[4] - counts_before.get(row[:4], (0, 0))[0],
                            row[5] - counts_before.get(row[:4], (0, Decimal(0)))[1])
                  for row in after if row[4:] != counts_before.get(row[:4])}
    settled_amount = sum(amount for (amount, _) in settled)
    currencies = {currency for (_, currency) in settled}
    assert sum(n for n, _ in added_rows.values()) == 9
    assert added_rows[("created", "card_payment", "completed", "USD")] == (7, added)
    assert {key[3] for key in added_rows if key[0] == "changed"} == currencies
    assert sum(amount for key, (_, amount) in added_rows.items() if key[0] == "changed") \
        == settled_amount
    # Whatever the statuses became, every transaction created in the stored windows is
    # counted once as created, with its exact amount, per type and currency.
    first, last = watermark_span(fresh_store, group.name)
    assert store_rows(fresh_store, "SELECT transaction_type, currency, "
                                   "sum(transactions)::bigint, sum(amount) FROM "
                                   "kasho_ops.business_transactions WHERE event LIKE 'created%%' "
                                   "GROUP BY 1, 2 ORDER BY 1, 2") == \
        kasho_rows(kasho_copy.admin_dsn, "SELECT t.transaction_type, a.currency, count(*), "
                                         "sum(t.amount) FROM transactions t JOIN accounts a "
                                         "ON a.id = t.account_id WHERE t.created_at > %s AND "
                                         "t.created_at <= %s GROUP BY 1, 2 ORDER BY 1, 2",
                   [first, last])


def test_two_collect_once_processes_store_what_happened_between_them_exactly_once(
        pg_cluster: LocalCluster, kasho_copy: KashoDatabase, fresh_store: str,
        tmp_path: Path) -> None:
    config_file = write_config_file(tmp_path / "k.toml", fresh_store,
                                    {"kasho": monitor_dsn(pg_cluster)},
                                    business={"kasho": kasho_copy.business_dsn})

    def collect_once() -> None:
        result = subprocess.run(
            [sys.executable, "-m", "collectors.cli", "collect", "--once", "--config",
             str(config_file), "--group", "business_transactions"],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    for _ in range(5):  # the first-run catch-up, as cron would run it
        collect_once()
    _, watermark = watermark_span(fresh_store, "business_transactions")
    # Rows that settle after the last run's window, as payments committed meanwhile do.
    added = insert_transactions(kasho_copy, 5, watermark + timedelta(milliseconds=50))
    collect_once()
    assert store_rows(fresh_store, STORED_EVENTS) == expected_events(kasho_copy, fresh_store)
    assert store_rows(fresh_store, "SELECT sum(amount) FROM kasho_ops.business_transactions "
                                   "WHERE transaction_type = 'card_payment' AND minute >= %s",
                      [watermark.replace(second=0, microsecond=0)])[0][0] >= added


def test_pending_backlog_balances_and_signups_are_exact(
        pg_cluster: LocalCluster, kasho_database: KashoDatabase, fresh_store: str) -> None:
    config = business_config(fresh_store, monitor_dsn(pg_cluster), kasho_database.business_dsn)
    with business_engine(config) as engine:
        for name in ("business_pending", "business_balances"):
            assert engine.run(business_group(name), config.targets[0]).error is None
        run_until_caught_up(engine, config, business_group("business_signups"))
    admin = kasho_database.admin_dsn
    assert store_rows(fresh_store, "SELECT currency, transaction_type, transactions, amount "
                                   "FROM kasho_ops.business_pending ORDER BY 1, 2") == \
        kasho_rows(admin, "SELECT a.currency, t.transaction_type, count(*), sum(t.amount) "
                          "FROM transactions t JOIN accounts a ON a.id = t.account_id "
                          "WHERE t.status = 'pending' GROUP BY 1, 2 "
                          "UNION ALL SELECT '*', '*', count(*), NULL FROM transactions "
                          "WHERE status = 'pending' ORDER BY 1, 2")
    assert store_rows(fresh_store, "SELECT oldest_created_at FROM kasho_ops.business_pending "
                                   "WHERE currency = '*'") == \
        kasho_rows(admin, "SELECT min(created_at) FROM transactions WHERE status = 'pending'")
    assert store_rows(fresh_store, "SELECT currency, account_type, accounts, total_balance, "
                                   "negative_accounts, negative_balance "
                                   "FROM kasho_ops.business_balances ORDER BY 1, 2") == \
        kasho_rows(admin, "SELECT currency, account_type, count(*), sum(balance), "
                          "count(*) FILTER (WHERE balance < 0), "
                          "coalesce(sum(balance) FILTER (WHERE balance < 0), 0) "
                          "FROM accounts GROUP BY 1, 2 ORDER BY 1, 2")
    first, last = watermark_span(fresh_store, "business_signups")
    assert store_rows(fresh_store, "SELECT entity, account_type, currency, sum(created)::bigint "
                                   "FROM kasho_ops.business_signups GROUP BY 1, 2, 3 "
                                   "ORDER BY 1, 2, 3") == \
        kasho_rows(admin, "SELECT 'account', account_type, currency, count(*) FROM accounts "
                          "WHERE created_at > %(first)s AND created_at <= %(last)s "
                          "GROUP BY 2, 3 UNION ALL SELECT 'user', '', '', count(*) FROM users "
                          "WHERE created_at > %(first)s AND created_at <= %(last)s "
                          "ORDER BY 1, 2, 3", {"first": first, "last": last})


def test_an_empty_backlog_is_stored_as_zero(pg_cluster: LocalCluster,
                                            kasho_copy: KashoDatabase, fresh_store: str) -> None:
    with psycopg.connect(kasho_copy.admin_dsn, autocommit=True) as conn:
        conn.execute("UPDATE transactions SET status = 'completed' WHERE status = 'pending'")
    config = business_config(fresh_store, monitor_dsn(pg_cluster), kasho_copy.business_dsn)
    with business_engine(config) as engine:
        assert engine.run(business_group("business_pending"), config.targets[0]).error is None
    assert store_rows(fresh_store, "SELECT currency, transaction_type, transactions, amount, "
                                   "oldest_created_at, oldest_age_seconds "
                                   "FROM kasho_ops.business_pending") == [
        ("*", "*", 0, None, None, 0.0)]


def test_the_business_role_reads_only_the_columns_it_aggregates(
        kasho_database: KashoDatabase) -> None:
    with psycopg.connect(kasho_database.business_dsn, autocommit=True) as conn:
        for column in ("email", "password_hash", "id", "*"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT {column} FROM users LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT user_id FROM accounts LIMIT 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE transactions SET status = status WHERE false")
        assert conn.execute("SELECT rolsuper OR pg_has_role(oid, 'pg_monitor', 'member') "
                            "OR pg_has_role(oid, 'pg_read_all_data', 'member') FROM pg_roles "
                            "WHERE rolname = current_user").fetchone() == (False,)


@pytest.mark.single_major  # nothing is read from the server
def test_targets_without_business_dsn_skip_the_business_groups_and_say_so_once(
        pg_cluster: LocalCluster, fresh_store: str, caplog: pytest.LogCaptureFixture) -> None:
    config = make_config(fresh_store, {"plain": monitor_dsn(pg_cluster)})
    store = MetricStore(config.store.dsn)
    store.open()
    collector = Collector(config, [business_group(n) for n in BUSINESS_GROUPS], store)
    try:
        with caplog.at_level("INFO"):
            assert collector.run_once() == []
        assert [r.getMessage() for r in caplog.records] == [
            f"target plain has no business_dsn: not collecting {', '.join(BUSINESS_GROUPS)}"]
    finally:
        collector.close()
        store.close()
    assert INCREMENTAL_GROUPS == ("business_transactions", "business_signups")
