"""A migration runner compatible with golang-migrate's files, version table and lock.

Files are `{version}_{description}.up.sql` / `.down.sql`. Each file runs as one simple-query
Exec, so several statements in one file share an implicit transaction, as with
golang-migrate's postgres driver. Before a file runs, the version table is set to
(target, dirty=true) in its own transaction; only success sets dirty=false. A failure leaves
the dirty row behind and every later command refuses until `force`.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from collectors.core.connections import describe_error
from collectors.core.db import fetch_value
from collectors.core.errors import MigrationError

MIGRATIONS_ROOT = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLES = {"kasho": "schema_migrations", "monitoring": "kasho_ops_schema_migrations"}
# golang-migrate keeps its table in current_schema(), which is right for the application set.
# The monitoring set pins `public`: once 0001 creates schema kasho_ops, a store role named
# kasho_ops would otherwise resolve current_schema() to it ("$user" in search_path), lose
# sight of its version table and re-run 0001.
VERSION_TABLE_SCHEMAS = {"kasho": None, "monitoring": "public"}
NIL_VERSION = -1
_ADVISORY_LOCK_SALT = 1486364155
_FILE_NAME = re.compile(r"^(?P<version>\d+)_(?P<name>[a-z0-9_]+)\.(?P<direction>up|down)\.sql$")
LOCK_WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Path
    down: Path


@dataclass(frozen=True)
class VersionState:
    version: int  # NIL_VERSION when nothing is applied
    dirty: bool

    def describe(self) -> str:
        if self.version == NIL_VERSION and not self.dirty:
            return "no migration applied"
        return f"{self.version}{' (dirty)' if self.dirty else ''}"


def load_migrations(directory: Path) -> list[Migration]:
    """Every version in `directory`, ascending; each must have both an up and a down file."""
    if not directory.is_dir():
        raise MigrationError(f"migration directory {directory} does not exist")
    files: dict[int, dict[str, Path]] = {}
    names: dict[int, str] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix != ".sql":
            continue
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: not a migration file name; use "
                                 "NNNN_description.up.sql / NNNN_description.down.sql")
        version = int(match.group("version"))
        if version in names and names[version] != match.group("name"):
            raise MigrationError(f"version {version} is used by two migrations: "
                                 f"{names[version]} and {match.group('name')}")
        names[version] = match.group("name")
        files.setdefault(version, {})[match.group("direction")] = path
    migrations = []
    for version in sorted(files):
        pair = files[version]
        for direction in ("up", "down"):
            if direction not in pair:
                raise MigrationError(f"migration {version}_{names[version]} has no "
                                     f".{direction}.sql file; every up needs a down")
        migrations.append(Migration(version, names[version], pair["up"], pair["down"]))
    return migrations


def advisory_lock_id(database: str, schema: str, table: str) -> int:
    """golang-migrate's GenerateAdvisoryLockId(database, schema, table)."""
    joined = "\x00".join([schema, table, database]).encode()
    return (zlib.crc32(joined) * _ADVISORY_LOCK_SALT) % 2**32


class MigrationRunner:
    """Applies one migration set (`kasho` or `monitoring`) to one database."""

    def __init__(self, database_url: str, migration_set: str,
                 directory: Path | None = None) -> None:
        if migration_set not in VERSION_TABLES:
            raise MigrationError(f"unknown migration set {migration_set!r}; use "
                                 f"{' or '.join(VERSION_TABLES)}")
        self.database_url = database_url
        self.migration_set = migration_set
        self.table = VERSION_TABLES[migration_set]
        self.schema = VERSION_TABLE_SCHEMAS[migration_set] or "public"  # resolved per session
        self.migrations = load_migrations(directory or MIGRATIONS_ROOT / migration_set)

    # -- connection and lock ------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.database_url, autocommit=True,
                                   application_name="kasho-ops-migrate", connect_timeout=10)
        except psycopg.Error as exc:
            raise MigrationError(f"cannot connect to the database: {describe_error(exc)}; "
                                 "check --database-url / DATABASE_URL") from None
        conn.execute("SET lock_timeout = '5s'")
        return conn

    def _version_table_schema(self, conn: psycopg.Connection[Any]) -> str:
        pinned = VERSION_TABLE_SCHEMAS[self.migration_set]
        return pinned or str(fetch_value(conn, "SELECT current_schema()"))

    def _ensure_version_table(self, conn: psycopg.Connection[Any]) -> None:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = %s", [self.schema, self.table]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (version bigint NOT NULL "
                                 "PRIMARY KEY, dirty boolean NOT NULL)")
                         .format(self._table))

    @property
    def _table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    def _lock(self, conn: psycopg.Connection[Any]) -> int:
        database = str(fetch_value(conn, "SELECT current_database()"))
        self.schema = self._version_table_schema(conn)
        lock_id = advisory_lock_id(database, self.schema, self.table)
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while not fetch_value(conn, "SELECT pg_try_advisory_lock(%s)", [lock_id]):
            if time.monotonic() > deadline:
                raise MigrationError(
                    f"another migration runner holds the lock on {self.table} "
                    f"(advisory lock {lock_id}); wait for it to finish and retry")
            time.sleep(0.2)
        return lock_id

    def _session(self) -> tuple[psycopg.Connection[Any], int]:
        conn = self._connect()
        try:
            lock_id = self._lock(conn)
            self._ensure_version_table(conn)
        except BaseException:
            conn.close()
            raise
        return conn, lock_id

    # -- version table ---------------------------------------------------------------------

    def _read_version(self, conn: psycopg.Connection[Any]) -> VersionState:
        row = conn.execute(sql.SQL("SELECT version, dirty FROM {} LIMIT 1")
                           .format(self._table)).fetchone()
        if row is None:
            return VersionState(NIL_VERSION, False)
        return VersionState(int(row[0]), bool(row[1]))

    def _set_version(self, conn: psycopg.Connection[Any], version: int, dirty: bool) -> None:
        with conn.transaction():
            conn.execute(sql.SQL("TRUNCATE {}").format(self._table))
            if version >= 0 or dirty:
                conn.execute(sql.SQL("INSERT INTO {} (version, dirty) VALUES (%s, %s)")
                             .format(self._table), [version, dirty])

    # -- commands --------------------------------------------------------------------------

    def version(self) -> VersionState:
        conn, _lock_id = self._session()
        try:
            return self._read_version(conn)
        finally:
            conn.close()

    def up(self, steps: int | None = None) -> list[int]:
        """Apply pending migrations (all, or the next `steps`); return the versions applied."""
        return self._migrate("up", steps)

    def down(self, steps: int | None = 1) -> list[int]:
        """Revert the last `steps` migrations (None: all of them); return versions reverted."""
        return self._migrate("down", steps)

    def force(self, version: int) -> None:
        """Set the version and clear dirty without running anything (after a manual fix)."""
        known = {m.version for m in self.migrations}
        if version != NIL_VERSION and version not in known:
            raise MigrationError(f"cannot force version {version}: no such migration in "
                                 f"the {self.migration_set} set (known: "
                                 f"{', '.join(map(str, sorted(known)))}; -1 for none)")
        conn, _ = self._session()
        try:
            self._set_version(conn, version, False)
        finally:
            conn.close()

    def _migrate(self, direction: str, steps: int | None) -> list[int]:
        if steps is not None and steps < 1:
            raise MigrationError("the number of steps must be at least 1")
        conn, _ = self._session()
        try:
            state = self._read_version(conn)
            if state.dirty:
                raise MigrationError(
                    f"{self.migration_set} database is dirty at version {state.version}: a "
                    "migration failed part-way. Fix the schema by hand, then run "
                    f"`kasho-ops migrate force <version> --set {self.migration_set}`")
            versions = [m.version for m in self.migrations]
            if state.version != NIL_VERSION and state.version not in versions:
                raise MigrationError(f"database is at version {state.version}, which has no "
                                     f"file in migrations/{self.migration_set}/")
            plan = self._plan(direction, state.version, steps)
            done = []
            for migration, target_version in plan:
                path = migration.up if direction == "up" else migration.down
                self._set_version(conn, target_version, True)
                try:
                    conn.execute(path.read_text().encode())
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"{path.name} failed: {describe_error(exc)}; the "
                        f"{self.migration_set} database is now dirty at version "
                        f"{target_version}. Fix it by hand, then run `kasho-ops migrate force "
                        f"<version> --set {self.migration_set}`") from None
                self._set_version(conn, target_version, False)
                done.append(migration.version)
            return done
        finally:
            conn.close()

    def _plan(self, direction: str, current: int,
              steps: int | None) -> list[tuple[Migration, int]]:
        if direction == "up":
            pending = [m for m in self.migrations if m.version > current]
            chosen = pending if steps is None else pending[:steps]
            return [(m, m.version) for m in chosen]
        applied = [m for m in self.migrations if m.version <= current]
        chosen = list(reversed(applied))
        if steps is not None:
            chosen = chosen[:steps]
        plan = []
        for migration in chosen:
            index = self.migrations.index(migration)
            previous = self.migrations[index - 1].version if index > 0 else NIL_VERSION
            plan.append((migration, previous))
        return plan
