"""No e-mail, password hash, user id or account id reaches the store or the collector's log:
after a workload (sign-ups included) and every group's collection, every store table is
scanned for every such value of the Kasho database."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector
from collectors.core.store import MetricStore
from demo.cluster import LocalCluster
from demo.roles import APP_ROLE, grant_app_role
from demo.workload import start_workload
from tests.conftest import KashoDatabase
from tests.integration.business_setup import run_until_caught_up, store_rows
from tests.integration.collector_setup import make_config, monitor_dsn

# The store's contents; the business SQL on 18 is covered by test_business_collect.
pytestmark = pytest.mark.single_major

SECRETS = """
    SELECT email FROM users UNION ALL SELECT password_hash FROM users
    UNION ALL SELECT id::text FROM users UNION ALL SELECT id::text FROM accounts"""


def store_tables(store_dsn: str) -> list[str]:
    """Every table of the store, partitioned parents standing for their partitions."""
    return [name for (name,) in store_rows(store_dsn, """
        SELECT c.relname FROM pg_class c
        WHERE c.relnamespace = 'kasho_ops'::regnamespace AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition ORDER BY 1""")]


def leaks(store_dsn: str, secrets: list[str]) -> dict[str, int]:
    """Rows per store table whose text form holds any of the secrets."""
    found = {}
    with psycopg.connect(store_dsn) as conn:
        for table in store_tables(store_dsn):
            rows = [text for (text,) in conn.execute(sql.SQL(
                "SELECT row::text FROM kasho_ops.{} row").format(sql.Identifier(table)))]
            everything = "\n".join(rows)
            hits = [secret for secret in secrets if secret in everything]
            if hits:
                found[table] = sum(1 for text in rows if any(s in text for s in hits))
    return found


def test_no_user_value_reaches_the_store_or_the_log(
        pg_cluster: LocalCluster, kasho_copy: KashoDatabase, fresh_store: str,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with psycopg.connect(kasho_copy.admin_dsn, autocommit=True) as conn:
        grant_app_role(conn)
    app_dsn = kasho_copy.admin_dsn.replace(f"user={pg_cluster.superuser}", f"user={APP_ROLE}")
    # The monitoring role reads the cluster-wide views from `postgres`, where
    # pg_stat_statements is installed; the workload's statements are among them.
    config = make_config(fresh_store, {"kasho": monitor_dsn(pg_cluster)},
                         business={"kasho": kasho_copy.business_dsn})
    catalog = load_catalog()
    store = MetricStore(config.store.dsn)
    store.open()
    collector = Collector(config, catalog.values(), store)
    try:
        with caplog.at_level(logging.DEBUG):
            records = collector.run_once()  # the counter groups' baselines
            workload = start_workload(app_dsn, clients=4, duration_seconds=3,
                                      log_path=tmp_path / "pgbench.log",
                                      scripts={"open_account": 5, "card_payment": 5,
                                               "deposit": 5, "read_balance": 5})
            assert workload.wait(120) == 0, workload.log_path.read_text()
            records += collector.run_once()  # the workload's statements, texts and rows
            for group in catalog.values():
                if group.incremental:
                    run_until_caught_up(collector.engine, config, group)
    finally:
        collector.close()
        store.close()
    with psycopg.connect(kasho_copy.admin_dsn) as conn:
        secrets = [value for (value,) in conn.execute(SECRETS)]
        assert conn.execute("SELECT count(*) FROM users WHERE email LIKE 'signup.%'"
                            ).fetchone()[0] > 0  # the workload's sign-ups are among them
    assert [r.metric_group for r in records if r.error] == []
    written = {table: store_rows(fresh_store, sql.SQL("SELECT count(*) FROM kasho_ops.{}")
                                 .format(sql.Identifier(table)).as_string(None))[0][0]
               for table in store_tables(fresh_store)}
    assert written["business_transactions"] > 0 and written["query_texts"] > 0
    assert len(secrets) > 1000
    assert leaks(fresh_store, secrets) == {}
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert [secret for secret in secrets if secret in logged] == []


def test_the_scan_finds_a_planted_value(fresh_store: str) -> None:
    """The scan above is only worth its silence if it would see a leak."""
    planted = "ann.example42@gmail.com"
    with psycopg.connect(fresh_store) as conn:
        conn.execute("SELECT kasho_ops.ensure_partition('collector_runs', current_date)")
        conn.execute("INSERT INTO kasho_ops.collector_runs VALUES (now(), 't', 'g', 1, 0, %s)",
                     [f"error near {planted}"])
    assert leaks(fresh_store, ["someone@else.org", planted]) == {"collector_runs": 1}
