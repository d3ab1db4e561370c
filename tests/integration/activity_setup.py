"""Real blocking situations for the activity tests: sessions idle in a transaction, a lock
chain three sessions deep, a long query, and a cluster that allows prepared transactions."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.pg import HeldSession, free_port


def wait_for_session(admin_dsn: str, pid: int, *, state: str | None = None,
                     wait_event_type: str | None = None, timeout: float = 15.0) -> None:
    """Block until pg_stat_activity shows `pid` in `state` / waiting on `wait_event_type`.

    Setup only: the background statement of a HeldSession has started when this returns.
    """
    deadline = time.monotonic() + timeout
    seen = None
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            seen = conn.execute("SELECT state, wait_event_type FROM pg_stat_activity "
                                "WHERE pid = %s", [pid]).fetchone()
            if seen and (state is None or seen[0] == state) and (
                    wait_event_type is None or seen[1] == wait_event_type):
                return
            time.sleep(0.05)
    raise AssertionError(f"pid {pid} never reached state={state} "
                         f"wait_event_type={wait_event_type}; last seen {seen}")


@dataclass
class LockChain:
    """A holds accounts (idle in transaction); B holds ledger and waits for accounts;
    C waits for ledger, so C waits on B, which waits on A."""

    a: HeldSession
    b: HeldSession
    c: HeldSession


@contextmanager
def lock_chain(cluster: LocalCluster, dbname: str) -> Iterator[LockChain]:
    dsn = cluster.dsn(dbname)
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance int)")
        admin.execute("CREATE TABLE IF NOT EXISTS ledger (id int)")
    a = HeldSession(dsn, "chain-a")
    b = HeldSession(dsn, "chain-b")
    c = HeldSession(dsn, "chain-c")
    try:
        a.execute("BEGIN")
        a.execute("LOCK TABLE accounts IN ROW EXCLUSIVE MODE")
        b.execute("BEGIN")
        b.execute("LOCK TABLE ledger IN ACCESS EXCLUSIVE MODE")
        b.execute_in_background("LOCK TABLE accounts IN SHARE MODE")
        wait_for_session(cluster.dsn(), b.pid, wait_event_type="Lock")
        c.execute_in_background("SELECT count(*) FROM ledger")
        wait_for_session(cluster.dsn(), c.pid, wait_event_type="Lock")
        yield LockChain(a, b, c)
    finally:
        # Release from the top so each waiter can finish before it is closed.
        a.execute("ROLLBACK")
        b.join()
        b.execute("ROLLBACK")
        c.join()
        for session in (c, b, a):
            session.close()


@contextmanager
def own_cluster(**settings: str) -> Iterator[LocalCluster]:
    """A cluster of our own with `settings` and the monitoring role. It lives in a fresh
    directory under the system temp dir, not pytest's tmp_path: PostgreSQL runs as another
    OS user and needs every parent directory searchable, which pytest's per-run directories
    (shared with concurrent runs) do not promise."""
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-activity-"))
    cluster = LocalCluster(base / "pg", free_port(), settings=dict(settings))
    try:
        cluster.start()
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
            conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def prepared_xacts_cluster() -> AbstractContextManager[LocalCluster]:
    """A cluster with two-phase commit on (the shared one has max_prepared_transactions 0)."""
    return own_cluster(max_prepared_transactions="5")
