"""A Kasho server with the slow-burning problems, collected for real, with days of history
behind it: what the browser tests of the Storage, Maintenance and Indexes pages look at.

On a throwaway cluster whose next XID was moved 150 M ahead (pg_resetwal -x: every
database is 150 M XIDs old), the Kasho schema with a small seed and: accounts with
autovacuum off and every row updated twice (dead rows), users changed past autoanalyze's
trigger with autovacuum off, a duplicate index on accounts, a redundant one on
transactions, an invalid one left by a failed CREATE UNIQUE INDEX CONCURRENTLY, many
sequential scans of transactions by amount (no index), and a session holding a
transaction open. hypopg, pgstattuple and pg_buffercache are installed. Every storage group
and query_stats are collected, then `HISTORY_DAYS` of earlier samples are grown backwards
from the real ones (tests/storage_history.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from collectors.core.engine import Engine
from collectors.core.metric_groups import load_catalog
from demo.cluster import LocalCluster
from demo.seed import seed
from tests.integration.collector_setup import monitor_dsn
from tests.integration.storage_setup import (
    cluster_with_next_xid,
    collect,
    consume_xids,
    failed_concurrent_index,
    storage_collector,
    storage_config,
)
from tests.pg import HeldSession
from tests.storage_history import seed_history_before

TARGET = "kasho-primary"
HISTORY_DAYS = 3.5
NEXT_XID = 150 * 1024 * 1024
SEQ_SCANS = 200


@dataclass
class StorageScenario:
    cluster: LocalCluster
    store_dsn: str
    config_path: Path
    holder: HeldSession


def _problems(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for extension in ("pg_stat_statements", "hypopg", "pgstattuple", "pg_buffercache"):
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
        conn.execute("ALTER TABLE accounts SET (autovacuum_enabled = false)")
        conn.execute("ALTER TABLE users SET (autovacuum_enabled = false)")
        for _ in range(2):
            conn.execute("UPDATE accounts SET balance = balance")
        conn.execute("UPDATE users SET password_hash = password_hash")
        conn.execute("CREATE INDEX accounts_user_id_copy ON accounts (user_id)")
        conn.execute("CREATE INDEX transactions_account_id_idx ON transactions (account_id)")
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO kasho_ops_monitor")
        conn.execute("SELECT pg_stat_force_next_flush()")
    failed_concurrent_index(dsn, "transactions", "status", "transactions_status_key")


def _seq_scans(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(SEQ_SCANS):
            conn.execute("SELECT id, status FROM transactions WHERE amount = %s", [i])
        conn.execute("SELECT pg_stat_force_next_flush()")


def _capacity_for_a_month(dsn: str) -> int:
    """A disk 30 % larger than what the cluster uses: at the history's 1 % a day it fills
    in about a month, inside what 3.5 days of history may forecast."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT (SELECT sum(pg_tablespace_size(oid)) FROM pg_tablespace) "
                           "+ (SELECT sum(size) FROM pg_ls_waldir())").fetchone()
    return int(float(row[0]) * 1.3) if row else 2**30


@contextmanager
def storage_scenario(store_dsn: str, work_dir: Path) -> Iterator[StorageScenario]:
    with cluster_with_next_xid(NEXT_XID) as cluster:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE kasho")
        from collectors.migrate import MigrationRunner

        MigrationRunner(cluster.dsn("kasho"), "kasho").up()
        with psycopg.connect(cluster.dsn("kasho"), autocommit=True) as conn:
            seed(conn, users=300, accounts=600, transactions=40_000, days=30)
        _problems(cluster.dsn("kasho"))
        target_dsn = monitor_dsn(cluster, "kasho")
        capacity = _capacity_for_a_month(cluster.dsn())
        config = storage_config(store_dsn, TARGET, target_dsn, host_filesystem=True,
                                disk_capacity_bytes=capacity)
        holder = HeldSession(cluster.dsn("kasho"), "month-end-report")
        holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        holder.execute("SELECT count(*) FROM users")
        consume_xids(cluster.dsn("kasho"), 1000)  # the horizon falls 1,000 XIDs behind
        try:
            with storage_collector(config) as collector:
                collect(collector)  # the baseline the range deltas start from
                engine = Engine(config.collector, collector.store)
                query_stats = load_catalog()["query_stats"]
                assert engine.run(query_stats, config.targets[0]).error is None  # baseline
                _seq_scans(cluster.dsn("kasho"))
                assert engine.run(query_stats, config.targets[0]).error is None
                engine.close()
                collect(collector)
            seed_history_before(store_dsn, TARGET, days=HISTORY_DAYS, growth_per_day=0.01,
                                xids_per_day=2_400_000)
            config_path = work_dir / "kasho-ops.toml"
            config_path.write_text(
                f'[store]\ndsn = "{store_dsn}"\n\n[dashboard]\nactions_enabled = true\n\n'
                '[auth]\nnone_role = "admin"\n\n'
                f'[[targets]]\nname = "{TARGET}"\ndsn = "{target_dsn}"\n'
                f"disk_capacity_bytes = {capacity}\nhost_filesystem = true\n")
            yield StorageScenario(cluster, store_dsn, config_path, holder)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
