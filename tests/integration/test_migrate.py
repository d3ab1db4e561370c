"""The migration runner against a real server: round trips, dirty state, locking, CLI."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from collectors.core.errors import MigrationError
from collectors.migrate import (
    MIGRATIONS_ROOT,
    NIL_VERSION,
    MigrationRunner,
    VersionState,
    advisory_lock_id,
    load_migrations,
)
from demo.cluster import LocalCluster

# The runner and the files of our two sets: the store's schema and Kasho's (which runs on
# PostgreSQL 15); the wheel demo (test_demo) applies every store migration on 18.
pytestmark = pytest.mark.single_major


def schema_dump(cluster: LocalCluster, dbname: str) -> str:
    result = subprocess.run(
        [str(cluster.bin / "pg_dump"), "--schema-only", "--no-owner",
         "--exclude-table=*schema_migrations", cluster.dsn(dbname)],
        capture_output=True, text=True, check=True)
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith("--") and "restrict" not in line.lower())


@pytest.mark.parametrize("migration_set", ["kasho", "monitoring"])
def test_every_file_round_trips_up_down_up(pg_cluster: LocalCluster, fresh_database: str,
                                           migration_set: str) -> None:
    runner = MigrationRunner(pg_cluster.dsn(fresh_database), migration_set)
    versions = [m.version for m in runner.migrations]
    assert versions, "the set has migrations"
    before = schema_dump(pg_cluster, fresh_database)
    for version in versions:
        assert runner.up(1) == [version]
        after_up = schema_dump(pg_cluster, fresh_database)
        assert after_up != before, f"{version} up changed nothing"
        assert runner.down(1) == [version]
        assert schema_dump(pg_cluster, fresh_database) == before, f"{version} down is not exact"
        assert runner.up(1) == [version]
        assert schema_dump(pg_cluster, fresh_database) == after_up
        assert runner.version().version == version
        before = after_up  # the schema the next version starts from, just checked
    assert runner.up() == []
    assert runner.down(None) == list(reversed(versions))
    assert runner.version().version == NIL_VERSION
    with psycopg.connect(pg_cluster.dsn(fresh_database)) as conn:
        table = "schema_migrations" if migration_set == "kasho" else "kasho_ops_schema_migrations"
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_sets_keep_separate_version_tables(pg_cluster: LocalCluster, fresh_database: str) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    MigrationRunner(dsn, "kasho").up()
    MigrationRunner(dsn, "monitoring").up(2)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT version, dirty FROM schema_migrations").fetchall() == [
            (max(m.version for m in load_migrations(MIGRATIONS_ROOT / "kasho")), False)]
        assert conn.execute("SELECT version, dirty FROM kasho_ops_schema_migrations").fetchall() \
            == [(2, False)]


def write_set(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_failing_migration_leaves_dirty_state_until_forced(
        pg_cluster: LocalCluster, fresh_database: str, tmp_path: Path) -> None:
    directory = write_set(tmp_path / "set", {
        "0001_create_a.up.sql": "CREATE TABLE a (id int);",
        "0001_create_a.down.sql": "DROP TABLE a;",
        "0002_broken.up.sql": "CREATE TABLE b (id int); SELECT no_such_function();",
        "0002_broken.down.sql": "DROP TABLE b;",
    })
    dsn = pg_cluster.dsn(fresh_database)
    runner = MigrationRunner(dsn, "kasho", directory)
    with pytest.raises(MigrationError) as excinfo:
        runner.up()
    message = str(excinfo.value)
    assert "0002_broken.up.sql failed" in message and "no_such_function" in message
    assert "dirty at version 2" in message and "migrate force" in message
    state = runner.version()
    assert (state.version, state.dirty) == (2, True)
    with psycopg.connect(dsn) as conn:  # the file's implicit transaction rolled back
        assert conn.execute("SELECT to_regclass('b')").fetchone() == (None,)
        assert conn.execute("SELECT to_regclass('a')").fetchone() == ("a",)
    for action in (runner.up, runner.down):
        with pytest.raises(MigrationError, match="is dirty at version 2"):
            action()
    runner.force(1)
    assert (runner.version().version, runner.version().dirty) == (1, False)
    (directory / "0002_broken.up.sql").write_text("CREATE TABLE b (id int);")
    assert runner.up() == [2]
    with pytest.raises(MigrationError, match="cannot force version 7"):
        runner.force(7)


def test_second_runner_waits_for_the_advisory_lock(
        pg_cluster: LocalCluster, fresh_database: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dsn = pg_cluster.dsn(fresh_database)
    lock_id = advisory_lock_id(fresh_database, "public", "schema_migrations")
    holder = psycopg.connect(dsn, autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [lock_id])
        monkeypatch.setattr("collectors.migrate.LOCK_WAIT_SECONDS", 0.5)
        with pytest.raises(MigrationError, match="another migration runner holds the lock"):
            MigrationRunner(dsn, "kasho").up()
        applied: list[int] = []
        monkeypatch.setattr("collectors.migrate.LOCK_WAIT_SECONDS", 10)
        worker = threading.Thread(target=lambda: applied.extend(MigrationRunner(dsn, "kasho").up()))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and applied == []  # still waiting: nothing interleaved
        holder.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
        worker.join(30)
        assert applied == [m.version for m in load_migrations(MIGRATIONS_ROOT / "kasho")]
    finally:
        holder.close()


def test_file_layout_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match=r"has no \.down\.sql file"):
        load_migrations(write_set(tmp_path / "a", {"0001_x.up.sql": "SELECT 1;"}))
    with pytest.raises(MigrationError, match="not a migration file name"):
        load_migrations(write_set(tmp_path / "b", {"1-x.up.sql": "SELECT 1;"}))


def kasho_ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collectors.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_migrate_up_version_down_force(pg_cluster: LocalCluster, fresh_database: str) -> None:
    url = pg_cluster.url(fresh_database)
    versions = sorted(m.version for m in load_migrations(MIGRATIONS_ROOT / "monitoring"))
    last = versions[-1]  # numbered in ranges per workstream: not consecutive
    up = kasho_ops("migrate", "up", "--set", "monitoring", "--database-url", url)
    assert up.returncode == 0, up.stderr
    assert up.stdout.startswith("monitoring: applied 1, 2")
    assert kasho_ops("migrate", "version", "--set", "monitoring", "--database-url",
                     url).stdout.strip() == str(last)
    assert kasho_ops("migrate", "down", "2", "--set", "monitoring", "--database-url",
                     url).returncode == 0
    assert kasho_ops("migrate", "version", "--set", "monitoring", "--database-url",
                     url).stdout.strip() == str(versions[-3])
    forced = kasho_ops("migrate", "force", "-1", "--set", "monitoring", "--database-url", url)
    assert forced.returncode == 0
    assert kasho_ops("migrate", "version", "--set", "monitoring", "--database-url",
                     url).stdout.strip() == "no migration applied"


def test_cli_bad_database_url_is_one_line_without_password() -> None:
    result = kasho_ops("migrate", "up", "--set", "kasho", "--database-url",
                       "postgresql://kasho:hunter2@127.0.0.1:1/kasho")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("kasho-ops: error: cannot connect to the database")
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_store_role_named_like_the_schema_finds_its_version_table(
        pg_cluster: LocalCluster, fresh_database: str) -> None:
    # "$user" in search_path makes current_schema() kasho_ops once 0001 created that schema.
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS kasho_ops")
        conn.execute("CREATE ROLE kasho_ops LOGIN")
        conn.execute(f"ALTER DATABASE {fresh_database} OWNER TO kasho_ops")
    dsn = pg_cluster.dsn(fresh_database, "kasho_ops")
    try:
        latest = max(m.version for m in load_migrations(MIGRATIONS_ROOT / "monitoring"))
        assert MigrationRunner(dsn, "monitoring").up()
        assert MigrationRunner(dsn, "monitoring").up() == []
        assert MigrationRunner(dsn, "monitoring").version() == VersionState(latest, False)
    finally:
        with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS kasho_ops CASCADE")
            conn.execute(f"ALTER DATABASE {fresh_database} OWNER TO postgres")
            conn.execute("DROP OWNED BY kasho_ops")
        with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
            conn.execute("DROP ROLE kasho_ops")
