"""Real backup infrastructure for the tests: a PostgreSQL primary that archives through
pgBackRest into a local repository, Kasho's documented tables, streaming standbys, and
helpers to wait for the archiver on a loaded machine (deadlines, never fixed sleeps)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from collectors.backups.pgbackrest import as_server_user
from collectors.backups.scratch import give_to_server_user
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.pg import free_port

STANZA = "kasho"
T = TypeVar("T")

# The schema of /work/shared/kasho-database-documentation.md, as documented: the drill may
# depend on nothing else.
KASHO_DDL = """
CREATE TABLE users (
    id UUID PRIMARY KEY,
    email VARCHAR(255) UNIQUE NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    user_id UUID REFERENCES users(id),
    account_type VARCHAR(50) NOT NULL,
    balance DECIMAL(19,4) NOT NULL,
    currency VARCHAR(3) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE transactions (
    id UUID PRIMARY KEY,
    account_id UUID REFERENCES accounts(id),
    transaction_type VARCHAR(50) NOT NULL,
    amount DECIMAL(19,4) NOT NULL,
    status VARCHAR(50) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
"""


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0,
             every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Repository:
    home: Path
    cluster: LocalCluster

    @property
    def conf(self) -> Path:
        return self.home / "pgbackrest.conf"

    @property
    def repo(self) -> Path:
        return self.home / "repo"

    @property
    def command(self) -> list[str]:
        return ["pgbackrest", f"--config={self.conf}"]

    @property
    def command_line(self) -> str:
        return " ".join(self.command)

    def run(self, *args: str) -> str:
        result = subprocess.run(as_server_user([*self.command, f"--stanza={STANZA}", *args]),
                                capture_output=True, text=True, cwd="/", check=False)
        assert result.returncode == 0, f"pgbackrest {args}: {result.stderr or result.stdout}"
        return result.stdout

    def write_conf(self) -> None:
        self.conf.write_text(
            f"[global]\nrepo1-path={self.repo}\nrepo1-retention-full=2\n"
            f"log-path={self.home / 'log'}\nlock-path={self.home / 'lock'}\n"
            f"spool-path={self.home / 'spool'}\ncompress-type=lz4\nstart-fast=y\n"
            "log-level-console=warn\n\n"
            f"[{STANZA}]\npg1-path={self.cluster.data_dir}\npg1-port={self.cluster.port}\n"
            f"pg1-socket-path={self.cluster.socket_dir}\n")


def server_owned(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    give_to_server_user(path)
    return path


def primary_with_repository(base: Path) -> Repository:
    """A started primary archiving through pgBackRest (stanza created), with the monitoring
    role, and a `kasho` database holding the documented schema."""
    if shutil.which("pgbackrest") is None:
        pytest.skip("pgbackrest not installed: apt-get install pgbackrest")
    home = base / "pgbackrest"
    conf = home / "pgbackrest.conf"
    cluster = LocalCluster(base / "primary", free_port(), settings={
        "archive_command": f"'pgbackrest --config={conf} --stanza={STANZA} archive-push %p'",
        "max_wal_senders": "10", "max_replication_slots": "10"})
    cluster.init()  # also lets the postgres user traverse `base`
    for sub in ("", "repo", "log", "lock", "spool"):
        server_owned(home / sub)
    repository = Repository(home, cluster)
    repository.write_conf()
    cluster.start()
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        conn.execute("CREATE DATABASE kasho")
    with psycopg.connect(cluster.dsn("kasho"), autocommit=True) as conn:
        conn.execute(KASHO_DDL)
    repository.run("stanza-create")
    return repository


def add_kasho_rows(dsn: str, count: int, tag: str) -> None:
    """`count` users, each with an account and two transactions, in one transaction."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "WITH u AS (INSERT INTO users (id, email, password_hash) "
            "  SELECT gen_random_uuid(), %(tag)s || g || '@example.com', 'x' "
            "  FROM generate_series(1, %(n)s) g RETURNING id), "
            "a AS (INSERT INTO accounts (id, user_id, account_type, balance, currency) "
            "  SELECT gen_random_uuid(), id, 'checking', 100, 'EUR' FROM u RETURNING id) "
            "INSERT INTO transactions (id, account_id, transaction_type, amount, status) "
            "SELECT gen_random_uuid(), a.id, t, 10, 'completed' FROM a, "
            "unnest(ARRAY['deposit', 'payment']) t", {"tag": tag, "n": count})


def kasho_counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM accounts),"
                           " (SELECT count(*) FROM transactions)").fetchone()
    assert row is not None
    return dict(zip(("users", "accounts", "transactions"), map(int, row), strict=True))


def switch_and_wait_archived(cluster: LocalCluster) -> str:
    """Close the current WAL segment and wait until the archiver has archived it."""
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        # Something to switch away from, so the switch really closes a segment.
        conn.execute("SELECT pg_logical_emit_message(false, 'kasho-ops-test', 'x')")
        segment = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]

        def archived() -> bool:
            row: Any = conn.execute(
                "SELECT last_archived_wal >= %s FROM pg_stat_archiver", [segment]).fetchone()
            return bool(row[0])

        wait_for(f"{segment} archived", archived)
    return str(segment)


def start_standby(primary: LocalCluster, base: Path, slot: str) -> LocalCluster:
    """A streaming standby made by `pg_basebackup -R` with its own replication slot."""
    server_owned(base)
    standby = LocalCluster(base, free_port())
    result = subprocess.run(as_server_user([
        str(standby.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
        "-U", "postgres", "-D", str(standby.data_dir), "-R", "-X", "stream", "-C", "-S", slot,
        "-c", "fast"]), capture_output=True, text=True, cwd="/", check=False)
    assert result.returncode == 0, result.stderr
    server_owned(standby.socket_dir)
    with (standby.data_dir / "postgresql.auto.conf").open("a") as conf:
        conf.write(f"\nport = {standby.port}\nunix_socket_directories = '{standby.socket_dir}'\n"
                   "archive_mode = off\n")
    standby.start()
    return standby
