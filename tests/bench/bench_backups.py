"""What backups and recovery cost: a restore drill's duration (restore, recovery, checks) and
one collection of each backup-related group, on a primary archiving through pgBackRest.

Run: make bench PYTEST_ARGS="-k backups --pg-major 15"
 (or: .venv/bin/pytest -m bench -s -p no:cacheprovider --pg-major 15
      tests/bench/bench_backups.py)

The primary (PostgreSQL from Debian, a cluster of its own) holds Kasho's documented tables
with USERS users, each with an account and two transactions; a full backup, then BATCHES
rounds of new rows, each closed by a WAL switch and followed by an incremental backup, so
the repository holds one full and BATCHES incrementals and the archive BATCHES+ segments
(the hard case for `repo-ls` and the gap check grows with the archive, not the data). The
drill runs DRILLS times to the end of the archive and once to a point in time between two
batches. Each collection runs REPEAT times: wall time is the median of the RunRecords'
durations (pgbackrest: three pgBackRest commands plus the store write; recovery_states: the
store reads and writes of one evaluation; the catalog groups: one read of the monitored
server plus the store write). The store is the session's test cluster.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from collectors.backups.collect import collect_pgbackrest
from collectors.backups.drill import record_drill, run_drill
from collectors.backups.jobs import store_recovery_states
from collectors.core.config import Config, load_config
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.integration.backup_setup import (
    STANZA,
    Repository,
    add_kasho_rows,
    kasho_counts,
    primary_with_repository,
    switch_and_wait_archived,
)
from tests.integration.collector_setup import monitor_dsn, open_collector
from tests.pg import create_database, drop_database

pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]
USERS = 100_000
BATCHES = 12
BATCH_USERS = 2_000
DRILLS = 3
REPEAT = 5
TARGET = "primary"
GROUPS = ("wal_archiving", "wal_archive_counts", "wal_archive_backlog", "recovery_status",
          "replication_standbys", "replication_slots", "basebackup_progress")


def bench_config(path: Path, store_dsn: str, repository: Repository, scratch: Path) -> Config:
    path.write_text(f"""
[store]
dsn = "{store_dsn}"

[backups]
drill_pgbackrest_command = "{repository.command_line}"
drill_scratch_dir = "{scratch}"
drill_timeout_seconds = 1800

[[targets]]
name = "{TARGET}"
dsn = "{monitor_dsn(repository.cluster, 'kasho')}"
pgbackrest_stanza = "{STANZA}"
pgbackrest_command = "{repository.command_line}"
""")
    return load_config(path)


@pytest.fixture(scope="module")
def backed_up(pg_cluster: LocalCluster) -> Iterator[tuple[Config, Repository, datetime]]:
    """The config, the repository and a point in time between two batches."""
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-bench-backups-"))
    repository = primary_with_repository(base)
    kasho = repository.cluster.dsn("kasho")
    add_kasho_rows(kasho, USERS, "base")
    repository.run("--type=full", "backup")
    middle: datetime | None = None
    for batch in range(BATCHES):
        add_kasho_rows(kasho, BATCH_USERS, f"batch{batch}-")
        if batch == BATCHES // 2:
            with psycopg.connect(kasho) as conn:
                middle = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        switch_and_wait_archived(repository.cluster)
        repository.run("--type=incr", "backup")
    assert middle is not None
    store_name = create_database(pg_cluster.dsn(), "bench_backups")
    store_dsn = pg_cluster.dsn(store_name)
    MigrationRunner(store_dsn, "monitoring").up()
    try:
        yield bench_config(base / "kasho-ops.toml", store_dsn, repository,
                           base / "drills"), repository, middle
    finally:
        repository.cluster.destroy()
        drop_database(pg_cluster.dsn(), store_name)
        shutil.rmtree(base, ignore_errors=True)


def database_bytes(cluster: LocalCluster) -> int:
    with psycopg.connect(cluster.dsn("kasho")) as conn:
        return int(conn.execute("SELECT pg_database_size('kasho')").fetchone()[0])  # type: ignore[index]


def test_restore_drill_duration(backed_up: tuple[Config, Repository, datetime]) -> None:
    config, repository, middle = backed_up
    target = config.target(TARGET)
    counts = kasho_counts(repository.cluster.dsn("kasho"))
    print(f"\nrestore drill: database kasho {database_bytes(repository.cluster) / 2**20:.0f} MB "
          f"({counts['users']:,} users, {counts['transactions']:,} transactions), "
          f"1 full + {BATCHES} incremental backups")
    print(f"{'to':<22} {'backup':<36} {'restore s':>9} {'recovery s':>10} {'total s':>8}  outcome")
    for to in [None] * DRILLS + [middle]:
        result = run_drill(config, target, to)
        record_drill(config.store.dsn, result)
        assert result.outcome == "passed", (result.error, result.checks)
        print(f"{'end of archive' if to is None else to.strftime('%H:%M:%S.%f'):<22} "
              f"{result.backup_label or '—':<36} {result.restore_seconds or 0:>9.1f} "
              f"{result.recovery_seconds or 0:>10.1f} {result.duration_seconds:>8.1f}  "
              f"{result.outcome}")


def test_collection_costs(backed_up: tuple[Config, Repository, datetime]) -> None:
    config, _, _ = backed_up
    target = config.target(TARGET)
    collector = open_collector(config, list(GROUPS))
    durations: dict[str, list[float]] = {}
    rows: dict[str, int] = {}
    try:
        for group in collector.groups:  # counter groups: the first run takes the baseline
            if group.is_counter:
                collector.collect(group, target)
        for _ in range(REPEAT):
            for group in collector.groups:
                record = collector.collect(group, target)
                assert record.error is None, record.error
                durations.setdefault(group.name, []).append(record.duration_ms)
                rows[group.name] = record.rows_written
            started = time.perf_counter()
            record = collect_pgbackrest(collector.store, target)
            assert record.error is None, record.error
            durations.setdefault("pgbackrest", []).append(
                (time.perf_counter() - started) * 1000)
            rows["pgbackrest"] = record.rows_written
            started = time.perf_counter()
            record = store_recovery_states(collector.store, config, target)
            assert record.error is None, record.error
            durations.setdefault("recovery_states", []).append(
                (time.perf_counter() - started) * 1000)
            rows["recovery_states"] = record.rows_written
    finally:
        collector.close()
        collector.store.close()
    print(f"\ncollection cost, median of {REPEAT} (wall time incl. the confirmed store write)")
    print(f"{'group':<22} {'median ms':>10} {'max ms':>8} {'rows':>6}")
    for name, values in durations.items():
        print(f"{name:<22} {statistics.median(values):>10.1f} {max(values):>8.1f} "
              f"{rows[name]:>6}")
