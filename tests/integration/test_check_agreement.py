"""`kasho-ops check` against Debian's check_postgres on the same cluster in the same states:
both must say the same OK/WARNING/CRITICAL for every action, with the same thresholds.

The cluster is this module's own (its states are set here): 20 connections, WAL archiving
that can be broken, a streaming standby. Where the store answers, the collector has just
collected the group, and the answer must say it came from the store.

check_postgres 2.25's archive_ready lists pg_wal on PostgreSQL 10+ (never a .ready file
there) unless --lsfunc names a function listing archive_status, so it is given one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from collectors.core.config import Config, parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector
from collectors.core.store import MetricStore
from collectors.exporters.check import run_check
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster, _as_postgres_user, _chown_to_postgres
from tests.conftest import MONITOR_ROLE
from tests.pg import HeldSession, free_port, held_sessions

CHECK_POSTGRES = "/usr/bin/check_postgres"
STORE_GROUPS = ["connections", "connection_limits", "transaction_ages", "lock_waits",
                "database_size"]


@dataclass
class Bench:
    primary: LocalCluster
    standby: LocalCluster
    config: Config
    collector: Collector


def start_standby(primary: LocalCluster, base: Path) -> LocalCluster:
    standby = LocalCluster(base, free_port())
    base.mkdir(parents=True)
    _chown_to_postgres(base)
    subprocess.run(_as_postgres_user([
        str(primary.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
        "-U", "postgres", "-D", str(standby.data_dir), "-R", "-X", "stream", "-c", "fast"]),
        check=True, capture_output=True, cwd="/")
    with open(standby.data_dir / "postgresql.auto.conf", "a") as conf:
        conf.write(f"\nport = {standby.port}\narchive_mode = off\n"
                   f"unix_socket_directories = '{primary.socket_dir}'\n")
    standby.start()
    return standby


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-check-"))
    primary = LocalCluster(base / "primary", free_port(), settings={
        "max_connections": "20", "archive_command": "'false'", "archive_timeout": "0"})
    primary.start()
    with psycopg.connect(primary.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        conn.execute("CREATE DATABASE store")
        # For check_postgres' --lsfunc: archive_status' names as text.
        conn.execute("CREATE FUNCTION ready_files() RETURNS SETOF text LANGUAGE sql AS "
                     "$$ SELECT name FROM pg_ls_archive_statusdir() $$")
    MigrationRunner(primary.dsn("store"), "monitoring").up()
    standby = start_standby(primary, base / "standby")
    config = parse_config({
        "store": {"dsn": primary.dsn("store")},
        "targets": [{"name": "primary", "dsn": primary.dsn("postgres", MONITOR_ROLE)},
                    {"name": "standby", "dsn": standby.dsn("postgres", MONITOR_ROLE)}],
        "alerts": {"enabled": False}}, environ={}, known_groups=set(load_catalog()))
    catalog = load_catalog()
    store = MetricStore(config.store.dsn)
    store.open()
    collector = Collector(config, [catalog[g] for g in STORE_GROUPS], store)
    try:
        yield Bench(primary, standby, config, collector)
    finally:
        collector.close()
        store.close()
        standby.destroy()
        primary.destroy()
        shutil.rmtree(base, ignore_errors=True)


def collect(bench: Bench, *groups: str) -> None:
    by_name = {g.name: g for g in bench.collector.groups}
    for group in groups or STORE_GROUPS:
        record = bench.collector.collect(by_name[group], bench.config.target("primary"))
        assert record.error is None, record.error
    # The writer thread stores runs in the background: the check reads what was collected.
    assert bench.collector.store.flush(30), "the store did not take the runs within 30 s"


def theirs(cluster: LocalCluster, action: str, warning: str | None, critical: str | None,
           *extra: str) -> tuple[str, str]:
    where = ([] if any(e.startswith("--dbhost") for e in extra)
             else ["--host=127.0.0.1", f"--port={cluster.port}"])
    argv = [CHECK_POSTGRES, f"--action={action}", *where, "--dbuser=postgres",
            "--dbname=postgres", *extra]
    argv += [f"--warning={warning}"] if warning is not None else []
    argv += [f"--critical={critical}"] if critical is not None else []
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    line = result.stdout.strip()
    state = line.split(":")[0].split()[-1] if line.startswith("POSTGRES_") else "UNKNOWN"
    assert {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[state] == result.returncode
    return state, line or result.stderr


def agree(bench: Bench, action: str, expected: str, warning: str | None = None,
          critical: str | None = None, *, target: str = "primary", extra: tuple[str, ...] = (),
          from_store: bool = False) -> None:
    ours = run_check(bench.config, target, action, warning, critical,
                     primary="primary" if target == "standby" else None)
    if target == "standby":
        extra = ("--dbhost=127.0.0.1,127.0.0.1",
                 f"--dbport={bench.primary.port},{bench.standby.port}", *extra)
        state, line = theirs(bench.primary, action, warning, critical, *extra)
    else:
        state, line = theirs(bench.primary, action, warning, critical, *extra)
    assert (ours.state, state) == (expected, expected), f"ours: {ours.line()}\ntheirs: {line}"
    assert ours.line().startswith(f"POSTGRES_{action.upper()} {expected}: ")
    if from_store:
        assert "from the store, data" in ours.source, ours.line()


def test_connection(bench: Bench) -> None:
    agree(bench, "connection", "OK")


def test_backends(bench: Bench) -> None:
    collect(bench)
    agree(bench, "backends", "OK", from_store=True)
    with held_sessions(bench.primary.dsn(), 10):
        collect(bench)
        agree(bench, "backends", "WARNING", "5", "18", from_store=True)
        agree(bench, "backends", "WARNING", "40%", "95%", from_store=True)
        agree(bench, "backends", "CRITICAL", "5", "8", from_store=True)
        agree(bench, "backends", "CRITICAL", "-10", "-8", from_store=True)


def test_txn_wraparound(bench: Bench) -> None:
    agree(bench, "txn_wraparound", "OK")
    agree(bench, "txn_wraparound", "WARNING", "1", "1000000000")
    agree(bench, "txn_wraparound", "CRITICAL", None, "1")


def test_txn_time_txn_idle_and_query_time(bench: Bench) -> None:
    collect(bench)
    agree(bench, "txn_idle", "OK", "2s", "1h", from_store=True)
    agree(bench, "query_time", "OK", "2s", "1h", from_store=True)
    idle = HeldSession(bench.primary.dsn(), application_name="worker")
    busy = HeldSession(bench.primary.dsn(), application_name="report")
    try:
        idle.execute("BEGIN")
        idle.execute("SELECT 1")
        busy.execute_in_background("SELECT pg_sleep(60)")
        time.sleep(4)
        collect(bench)
        for action in ("txn_time", "txn_idle", "query_time"):
            agree(bench, action, "WARNING", "2s", "1h", from_store=True)
            agree(bench, action, "CRITICAL", "1s", "3 seconds", from_store=True)
            agree(bench, action, "OK", "10 minutes", "1h", from_store=True)
        agree(bench, "txn_time", "WARNING", "2 for 2s", "5 for 2s", from_store=True)
    finally:
        idle.close()
        busy.close()


def test_locks(bench: Bench, tmp_path: Path) -> None:
    agree(bench, "locks", "OK")
    agree(bench, "locks", "WARNING", "1", "1000")
    with psycopg.connect(bench.primary.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS held (id int)")
    blocker = HeldSession(bench.primary.dsn())
    waiter = HeldSession(bench.primary.dsn())
    try:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE held IN ACCESS EXCLUSIVE MODE")
        waiter.execute_in_background("SELECT * FROM held")
        time.sleep(1)
        collect(bench, "lock_waits")
        agree(bench, "locks", "CRITICAL", None, "waiting=1", from_store=True)
        agree(bench, "locks", "WARNING", "accessexclusive=1", "accessexclusive=5")
    finally:
        blocker.close()
        waiter.close()


def test_last_vacuum_and_last_analyze(bench: Bench) -> None:
    with psycopg.connect(bench.primary.dsn(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE pg_class")
    time.sleep(2)
    for action in ("last_vacuum", "last_analyze"):
        agree(bench, action, "OK")
        agree(bench, action, "WARNING", "1s", "1 day")
        agree(bench, action, "CRITICAL", "1s", "1s")


def test_bloat(bench: Bench) -> None:
    with psycopg.connect(bench.primary.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE churn AS SELECT g AS id, repeat('x', 200) AS pad "
                     "FROM generate_series(1, 50000) g")
        conn.execute("DELETE FROM churn WHERE id % 10 <> 0")
        conn.execute("ANALYZE churn")
        # The estimate reads the table's pg_stats rows, which PostgreSQL shows only to roles
        # that may read the table (pg_monitor is not enough): check_postgres as a superuser
        # sees them, the monitoring role needs SELECT.
        conn.execute(f"GRANT SELECT ON churn TO {MONITOR_ROLE}")
    agree(bench, "bloat", "OK")
    agree(bench, "bloat", "WARNING", "1 MB", "1 GB")
    agree(bench, "bloat", "CRITICAL", "1 MB", "2 MB")
    agree(bench, "bloat", "WARNING", "500%", "10000%")


def test_database_size(bench: Bench) -> None:
    collect(bench, "database_size")
    agree(bench, "database_size", "OK", "1 GB", "2 GB", from_store=True)
    agree(bench, "database_size", "WARNING", "1 MB", "10 GB", from_store=True)
    agree(bench, "database_size", "CRITICAL", None, "1 MB", from_store=True)


def switch_wal(cluster: LocalCluster, times: int) -> None:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS wal_churn (n int)")
        for n in range(times):
            conn.execute("INSERT INTO wal_churn VALUES (%s)", [n])
            conn.execute("SELECT pg_switch_wal()")


def test_archive_ready_and_wal_files_with_archiving_broken_then_fixed(bench: Bench) -> None:
    lsfunc = ("--lsfunc=ready_files",)
    switch_wal(bench.primary, 4)  # archive_command is 'false': .ready files pile up
    agree(bench, "archive_ready", "OK", extra=lsfunc)
    agree(bench, "archive_ready", "WARNING", "2", "100", extra=lsfunc)
    agree(bench, "archive_ready", "CRITICAL", "1", "2", extra=lsfunc)
    agree(bench, "wal_files", "WARNING", "1", "1000")
    agree(bench, "wal_files", "OK")
    with psycopg.connect(bench.primary.dsn(), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET archive_command = "
                     f"'cp %p {bench.primary.archive_dir}/%f'")
        conn.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 60
    while run_check(bench.config, "primary", "archive_ready", "1", "2").state != "OK":
        assert time.monotonic() < deadline, "the archiver did not catch up"
        time.sleep(0.5)
    agree(bench, "archive_ready", "OK", "1", "2", extra=lsfunc)


def test_replication_slots(bench: Bench) -> None:
    with psycopg.connect(bench.primary.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_create_physical_replication_slot('parked', true)")
    try:
        switch_wal(bench.primary, 2)
        agree(bench, "replication_slots", "OK", "1 GB", "2 GB")
        agree(bench, "replication_slots", "WARNING", "1 kB", "1 GB")
        agree(bench, "replication_slots", "CRITICAL", "1 kB", "2 kB")
    finally:
        with psycopg.connect(bench.primary.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot('parked')")


def test_hot_standby_delay(bench: Bench) -> None:
    deadline = time.monotonic() + 30
    while run_check(bench.config, "standby", "hot_standby_delay", "1", "2",
                    primary="primary").state != "OK":
        assert time.monotonic() < deadline, "the standby did not catch up"
        time.sleep(0.3)
    agree(bench, "hot_standby_delay", "OK", "1048576", "16777216", target="standby")
    with psycopg.connect(bench.standby.dsn(), autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        switch_wal(bench.primary, 1)
        agree(bench, "hot_standby_delay", "WARNING", "1", "1073741824", target="standby")
        agree(bench, "hot_standby_delay", "CRITICAL", "1", "2", target="standby")
    finally:
        with psycopg.connect(bench.standby.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")


def test_connection_to_a_server_that_is_down_is_critical(bench: Bench) -> None:
    bench.standby.stop()
    try:
        ours = run_check(bench.config, "standby", "connection", None, None)
        state, line = theirs(bench.standby, "connection", None, None)
        assert (ours.state, state) == ("CRITICAL", "CRITICAL"), (ours.line(), line)
        assert "standby" in ours.text
    finally:
        bench.standby.start()


def test_the_cli_prints_one_nagios_line_and_exits_with_the_state(
        bench: Bench, tmp_path: Path) -> None:
    config = tmp_path / "kasho-ops.toml"
    config.write_text(f'[store]\ndsn = "{bench.primary.dsn("store")}"\n\n[[targets]]\n'
                      f'name = "primary"\ndsn = "{bench.primary.dsn("postgres", MONITOR_ROLE)}"\n')
    run = subprocess.run(["kasho-ops", "check", "--config", str(config), "--target", "primary",
                          "--check", "database_size", "--warning", "1 MB", "--critical",
                          "10 GB"], capture_output=True, text=True, timeout=60,
                         executable=str(Path(__file__).resolve().parents[2] / ".venv" / "bin"
                                        / "kasho-ops"))
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.startswith("POSTGRES_DATABASE_SIZE WARNING: ")
    assert run.stdout.count("\n") == 1 and " | " in run.stdout
    bad = subprocess.run(["kasho-ops", "check", "--config", str(config), "--target", "primary",
                          "--check", "database_size", "--warning", "lots"],
                         capture_output=True, text=True, timeout=60,
                         executable=str(Path(__file__).resolve().parents[2] / ".venv" / "bin"
                                        / "kasho-ops"))
    assert bad.returncode == 3
    assert bad.stdout.startswith("POSTGRES_DATABASE_SIZE UNKNOWN: Invalid size")
