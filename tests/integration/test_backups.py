"""Backups, archiving, point-in-time recovery and replication on real servers: a primary that
archives through pgBackRest into a local repository, full and incremental backups, a broken
archive_command, restore drills to a point in time, a streaming standby made by
`pg_basebackup -R` with a paused replay, an inactive slot retaining WAL until it is lost,
and a gap cut into the archive. One primary and repository serve the whole module; the
tests run in file order (the gap test spoils the archive, so it comes last)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import streamlit as st
from psycopg import sql
from psycopg.rows import dict_row
from streamlit.testing.v1 import AppTest

from collectors.alerts.service import OnCall
from collectors.backups.collect import collect_pgbackrest
from collectors.backups.jobs import store_recovery_states
from collectors.core.config import Config, load_config
from collectors.core.scheduler import Collector
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.integration.backup_setup import (
    Repository,
    add_kasho_rows,
    kasho_counts,
    primary_with_repository,
    start_standby,
    switch_and_wait_archived,
    wait_for,
)
from tests.integration.collector_setup import monitor_dsn, open_collector
from tests.pg import create_database, drop_database

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
# The primary and its standbys are clusters of the default install (PostgreSQL 15: pgBackRest
# 2.45 cannot back up 18); pg_cluster only holds the store, so another major repeats the same.
pytestmark = pytest.mark.single_major
PRIMARY, STANDBY = "primary", "standby"


@dataclass
class World:
    repository: Repository
    store_dsn: str
    config_path: Path
    config: Config
    base: Path

    @property
    def primary(self) -> LocalCluster:
        return self.repository.cluster

    def store(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.store_dsn, row_factory=dict_row) as conn:
            return conn.execute(query, params).fetchall()

    def states(self, target: str) -> dict[str, dict[str, Any]]:
        collector = open_collector(self.config, [])
        try:
            record = store_recovery_states(collector.store, self.config,
                                           self.config.target(target))
            assert record.error is None, record.error
        finally:
            collector.store.close()
        return {row["state"]: row for row in self.store(
            "SELECT * FROM kasho_ops.recovery_states_latest WHERE target = %s", [target])}


def write_config(path: Path, store_dsn: str, repository: Repository, scratch: Path,
                 standby_dsn: str = "host=127.0.0.1 port=1 dbname=kasho") -> Path:
    path.write_text(f"""
[store]
dsn = "{store_dsn}"

[backups]
max_slot_retained_mb = 1
max_replication_lag_mb = 0.001
drill_pgbackrest_command = "{repository.command_line}"
drill_scratch_dir = "{scratch}"
drill_timeout_seconds = 300

[[targets]]
name = "{PRIMARY}"
dsn = "{monitor_dsn(repository.cluster, 'kasho')}"
pgbackrest_stanza = "kasho"
pgbackrest_command = "{repository.command_line}"

[[targets]]
name = "{STANDBY}"
dsn = "{standby_dsn}"
""")
    return path


@pytest.fixture(scope="module")
def world(pg_cluster: LocalCluster) -> Iterator[World]:
    # Not pytest's tmp_path: another pytest run resets /tmp/pytest-of-root to 0700, which
    # locks the postgres user out of a cluster under it.
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-backups-"))
    repository = primary_with_repository(base)
    kasho = repository.cluster.dsn("kasho")
    add_kasho_rows(kasho, 20, "first")
    repository.run("--type=full", "backup")
    add_kasho_rows(kasho, 5, "second")
    for _ in range(2):  # segments between the full and the incremental, for the gap test
        switch_and_wait_archived(repository.cluster)
    repository.run("--type=incr", "backup")
    store_name = create_database(pg_cluster.dsn(), "store")
    store_dsn = pg_cluster.dsn(store_name)
    MigrationRunner(store_dsn, "monitoring").up()
    config_path = write_config(base / "kasho-ops.toml", store_dsn, repository, base / "drills")
    try:
        yield World(repository, store_dsn, config_path, load_config(config_path), base)
    finally:
        repository.cluster.destroy()
        drop_database(pg_cluster.dsn(), store_name)
        shutil.rmtree(base, ignore_errors=True)


def collect(config: Config, target: str, groups: list[str]) -> None:
    """One stored run of each group (counter groups take their baseline first)."""
    collector = open_collector(config, groups)
    try:
        run_groups(collector, target, prime=True)
    finally:
        collector.close()
        collector.store.close()


def run_groups(collector: Collector, target: str, prime: bool = False) -> None:
    """One run of each group; with `prime`, counter groups run twice, so the second stores
    deltas from the baseline the first took."""
    chosen = collector.config.target(target)
    for group in collector.groups:
        for _ in range(2 if prime and group.is_counter else 1):
            record = collector.collect(group, chosen)
            assert record.error is None, record.error


def superuser(cluster: LocalCluster, statement: str | sql.Composable, params: Any = None) -> Any:
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


@pytest.fixture(autouse=True)
def empty_caches() -> None:
    st.cache_data.clear()


def open_page(world: World, monkeypatch: pytest.MonkeyPatch, script: str,
              target: str) -> AppTest:
    monkeypatch.setenv("KASHO_OPS_CONFIG", str(world.config_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page(script)
    at.query_params.update({"range": "1h", "target": target})
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("info", "warning", "error", "success", "caption", "markdown")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts).replace("\\", "")


# -- backups ---------------------------------------------------------------------------------

def test_full_and_incremental_backups_are_stored_with_the_pitr_window(world: World) -> None:
    collector = open_collector(world.config, [])
    try:
        record = collect_pgbackrest(collector.store, world.config.target(PRIMARY))
    finally:
        collector.store.close()
    assert record.error is None, record.error
    assert record.rows_written == 3

    stanza = world.store("SELECT * FROM kasho_ops.pgbackrest_stanzas WHERE target = %s",
                         [PRIMARY])[0]
    assert (stanza["stanza"], stanza["status_code"], stanza["status_message"]) == \
        ("kasho", 0, "ok")
    major = superuser(world.primary, "SELECT current_setting('server_version_num')::int")
    assert stanza["cipher"] == "none" and stanza["db_version"] == str(major // 10000)
    assert (stanza["retention_full"], stanza["retention_full_type"]) == (2, "count")
    assert stanza["retention_diff"] is None and stanza["retention_archive"] is None
    assert stanza["wal_checked"] is True and stanza["wal_gap_count"] == 0
    assert stanza["backup_count"] == 2 and stanza["notes"] is None
    backups = world.store("SELECT * FROM kasho_ops.pgbackrest_backups WHERE target = %s "
                          "ORDER BY stop_time", [PRIMARY])
    full, incr = backups
    assert (full["backup_type"], incr["backup_type"]) == ("full", "incr")
    assert incr["prior_label"] == full["label"] and incr["label"].startswith(full["label"])
    assert (full["references_count"], incr["references_count"]) == (0, 1)
    for backup in backups:
        assert backup["database_size_bytes"] > 1_000_000 and backup["repo_size_bytes"] > 0
        assert backup["stop_time"] >= backup["start_time"] and backup["error"] is False
        assert backup["wal_start"] <= backup["wal_stop"]
    assert incr["backup_size_bytes"] < full["backup_size_bytes"]
    # Restorable from the end of the full backup to the newest archived WAL.
    assert stanza["pitr_start"] == full["stop_time"]
    assert stanza["pitr_end"] >= incr["stop_time"]

    states = world.states(PRIMARY)
    for name in ("pgbackrest", "full_backup_age", "backup_age", "backup_errors", "wal_gap"):
        assert states[name]["severity"] == "ok", states[name]
    assert states["pitr_window"]["severity"] == "warning"  # minutes old, 24 h asked
    assert states["restore_drill"]["severity"] == "warning"  # none yet


def test_broken_archive_command_counts_failures_and_raises_the_state(world: World) -> None:
    primary = world.primary
    collector = open_collector(world.config, ["wal_archive_counts", "wal_archiving",
                                              "wal_archive_backlog"])
    try:
        run_groups(collector, PRIMARY, prime=True)  # a baseline and a healthy sample
        failed_before = superuser(primary, "SELECT failed_count FROM pg_stat_archiver")
        working = superuser(primary, "SELECT current_setting('archive_command')")
        superuser(primary, "ALTER SYSTEM SET archive_command = 'exit 1'")
        superuser(primary, "SELECT pg_reload_conf()")
        with psycopg.connect(primary.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_logical_emit_message(false, 'kasho-ops-test', 'x')")
            broken = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()[0]
        wait_for("failed archive attempts", lambda: superuser(
            primary, "SELECT failed_count FROM pg_stat_archiver") > failed_before)
        run_groups(collector, PRIMARY)
        counted = world.store("SELECT failed_count FROM kasho_ops.wal_archive_counts "
                              "WHERE target = %s ORDER BY collected_at DESC LIMIT 1",
                              [PRIMARY])[0]
        assert counted["failed_count"] >= 1
        row = world.store("SELECT * FROM kasho_ops.wal_archiving WHERE target = %s "
                          "ORDER BY collected_at DESC LIMIT 1", [PRIMARY])[0]
        assert row["last_failed_wal"] == broken
        backlog = world.store("SELECT * FROM kasho_ops.wal_archive_backlog WHERE target = %s "
                              "ORDER BY collected_at DESC LIMIT 1", [PRIMARY])[0]
        assert backlog["ready_count"] >= 1 and backlog["oldest_ready_at"] is not None
        assert row["archive_lag_segments"] >= 1
        assert row["archive_lag_bytes"] >= 16 * 1024 * 1024
        archiving = world.states(PRIMARY)["archiving"]
        assert archiving["severity"] == "critical", archiving
        assert broken in archiving["message"] and archiving["value"] >= 1
        # The state is an alert: rule archiving_failing fires at once, critical, with the message.
        alert = recovery_alerts(world, collector)["archiving"]
        assert (alert["state"], alert["severity"]) == ("firing", "critical"), alert
        assert broken in alert["detail"]

        superuser(primary, sql.SQL("ALTER SYSTEM SET archive_command = {}").format(
            sql.Literal(working)))
        superuser(primary, "SELECT pg_reload_conf()")
        wait_for(f"{broken} archived once fixed", lambda: superuser(
            primary, "SELECT last_archived_wal >= %s FROM pg_stat_archiver", [broken]),
            timeout=120)
        run_groups(collector, PRIMARY)
        assert recovery_alerts(world, collector)["archiving"]["state"] == "resolved"
    finally:
        collector.close()
        collector.store.close()
    assert world.states(PRIMARY)["archiving"]["severity"] == "ok"


def recovery_alerts(world: World, collector: Collector) -> dict[str, dict[str, Any]]:
    """One evaluation of the primary's states as the collector's job runs it, the on-call
    evaluator told: the archiving_failing alerts by state, the latest episode of each."""
    oncall = OnCall(world.config, collector.store, [])
    record = store_recovery_states(collector.store, world.config, world.config.target(PRIMARY),
                                   oncall.after_recovery_run)
    assert record.error is None, record.error
    assert oncall.evaluator.drain(60), "the evaluation did not finish"
    return {row["instance"]: row for row in world.store(
        "SELECT * FROM kasho_ops.alerts WHERE rule = 'archiving_failing' AND target = %s "
        "ORDER BY id", [PRIMARY])}


def run_drill_command(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collectors.cli", "restore-drill", "--config",
                           str(world.config_path), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)


def drill_processes() -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                             check=True).stdout
    return [line for line in listing.splitlines() if "kasho-ops-drill" in line]


def test_restore_drill_recovers_to_a_point_in_time(world: World,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    kasho = world.primary.dsn("kasho")
    at_target = kasho_counts(kasho)
    target_time: datetime = superuser(world.primary, "SELECT clock_timestamp()")
    time.sleep(0.05)
    add_kasho_rows(kasho, 7, "after-target")
    switch_and_wait_archived(world.primary)

    result = run_drill_command(world, "--target", PRIMARY, "--to", target_time.isoformat())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout and "Traceback" not in result.stderr
    drill = world.store("SELECT * FROM kasho_ops.restore_drills WHERE target = %s "
                        "ORDER BY id DESC LIMIT 1", [PRIMARY])[0]
    assert drill["outcome"] == "passed" and drill["error"] is None
    assert drill["trigger"] == "command" and drill["requested_time"] == target_time
    # The restored data is the data of the target time: the later rows are not there.
    assert drill["row_counts"] == at_target
    assert drill["recovered_to"] <= target_time
    assert drill["newest_transaction_at"] <= target_time
    assert [c["name"] for c in drill["checks"]] == [
        "restored", "recovered", "reached_target", "tables_answer", "newest_transaction"]
    assert all(c["passed"] for c in drill["checks"]), drill["checks"]
    assert drill["backup_label"].endswith("I")  # the incremental, newest before the target
    assert drill["restore_seconds"] > 0 and drill["recovery_seconds"] > 0
    # The scratch copy is gone and no drill server is left running.
    assert list((world.base / "drills").iterdir()) == []
    assert drill_processes() == []
    assert world.states(PRIMARY)["restore_drill"]["severity"] == "ok"

    # No backup ends before this time: the drill fails, is recorded, and raises the state.
    full_start = world.store("SELECT min(start_time) AS t FROM kasho_ops.pgbackrest_backups "
                             "WHERE target = %s", [PRIMARY])[0]["t"]
    failed = run_drill_command(world, "--target", PRIMARY, "--to", full_start.isoformat())
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAILED" in failed.stdout and "Traceback" not in failed.stderr
    last = world.store("SELECT outcome, error, checks FROM kasho_ops.restore_drills "
                       "ORDER BY id DESC LIMIT 1")[0]
    assert last["outcome"] == "failed" and "no good backup" in last["error"]
    state = world.states(PRIMARY)["restore_drill"]
    assert state["severity"] == "critical" and "no good backup" in state["message"]

    # A target without pgBackRest: one line, exit code 2, nothing recorded.
    refused = run_drill_command(world, "--target", STANDBY)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "kasho-ops: error: target standby has no pgbackrest_stanza: a drill restores from "
        "pgBackRest; add pgbackrest_stanza to its [[targets]] table"]

    at = open_page(world, monkeypatch, "features/backups/page.py", PRIMARY)
    drills = next(e.value for e in at.get("dataframe") if "outcome" in e.value.columns)
    assert list(drills["outcome"][:2]) == ["failed", "passed"]
    backups = next(e.value for e in at.get("dataframe") if "label" in e.value.columns)
    assert sorted(backups["type"]) == ["full", "incremental"]
    assert len(at.get("plotly_chart")) >= 2
    assert "Restore drill: the last restore drill" in texts(at)


# -- replication -----------------------------------------------------------------------------

def test_streaming_standby_lag_and_an_inactive_slot_retaining_wal(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    primary = world.primary
    standby = start_standby(primary, world.base / "standby", "standby_slot")
    try:
        world.config_path = write_config(
            world.config_path, world.store_dsn, world.repository, world.base / "drills",
            monitor_dsn(standby, "kasho"))
        world.config = load_config(world.config_path)
        wait_for("the standby streaming", lambda: superuser(
            primary, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"))
        superuser(primary, "SELECT pg_create_physical_replication_slot('idle_slot', true)")
        superuser(standby, "SELECT pg_wal_replay_pause()")
        add_kasho_rows(primary.dsn("kasho"), 300, "while-paused")
        for _ in range(2):
            switch_and_wait_archived(primary)
        wait_for("replay lag on the primary", lambda: superuser(
            primary, "SELECT pg_wal_lsn_diff(flush_lsn, replay_lsn) > 0 FROM "
                     "pg_stat_replication"))

        collect(world.config, PRIMARY, ["replication_standbys", "replication_slots",
                                        "recovery_status"])
        collect(world.config, STANDBY, ["recovery_status", "replication_slots"])

        row = world.store("SELECT * FROM kasho_ops.replication_standbys WHERE target = %s "
                          "ORDER BY collected_at DESC LIMIT 1", [PRIMARY])[0]
        assert (row["state"], row["sync_state"], row["slot_name"]) == \
            ("streaming", "async", "standby_slot")
        assert row["client_addr"] == "127.0.0.1"
        assert row["replay_lag_bytes"] > 0 and row["replay_lag_bytes"] >= row["flush_lag_bytes"]
        slots = {r["slot_name"]: r for r in world.store(
            "SELECT * FROM kasho_ops.replication_slots WHERE target = %s", [PRIMARY])}
        assert slots["standby_slot"]["active"] is True
        idle = slots["idle_slot"]
        assert idle["active"] is False and idle["wal_status"] == "reserved"
        assert idle["retained_wal_bytes"] > 16 * 1024 * 1024  # two switches since it was made
        assert idle["safe_wal_size_bytes"] is None  # max_slot_wal_keep_size unlimited
        recovery = world.store("SELECT * FROM kasho_ops.recovery_status WHERE target = %s",
                               [STANDBY])[0]
        assert recovery["in_recovery"] is True and recovery["replay_paused"] is True
        assert recovery["receive_replay_lag_bytes"] > 0
        assert (recovery["upstream_port"], recovery["upstream_slot"]) == \
            (primary.port, "standby_slot")
        assert world.store("SELECT in_recovery FROM kasho_ops.recovery_status "
                           "WHERE target = %s", [PRIMARY])[0]["in_recovery"] is False

        states = world.states(PRIMARY)
        assert states["slot_retention"]["severity"] == "warning"
        assert "inactive slot idle_slot" in states["slot_retention"]["message"]
        assert states["replication_lag_bytes"]["severity"] == "warning"
        standby_states = world.states(STANDBY)
        assert standby_states["replication_lag_bytes"]["severity"] == "warning"
        assert "replay is paused" in standby_states["replication_lag_seconds"]["message"]

        at = open_page(world, monkeypatch, "features/replication/page.py", PRIMARY)
        shown = texts(at)
        assert "Inactive slot idle_slot keeps" in shown
        assert "This target is a primary" in shown
        tables = [e.value for e in at.get("dataframe")]
        standbys = next(t for t in tables if "replay lag" in t.columns)
        assert list(standbys["slot"]) == ["standby_slot"]
        slot_table = next(t for t in tables if "wal_status" in t.columns)
        assert list(slot_table["slot"]) == ["idle_slot", "standby_slot"]
        assert len(at.get("plotly_chart")) >= 2
        at = open_page(world, monkeypatch, "features/replication/page.py", STANDBY)
        assert (f"This target is a standby (in recovery): it streams from 127.0.0.1:"
                f"{primary.port} through slot standby_slot") in texts(at)
        assert [m.value for m in at.get("metric") if m.label == "Replay"] == ["PAUSED"]
        at = open_page(world, monkeypatch, "features/backups/page.py", STANDBY)
        assert "This target is a standby" in texts(at)
        assert "pgBackRest is not configured for this target" in texts(at)

        # The inactive slot outgrows max_slot_wal_keep_size: its WAL is lost at a checkpoint.
        superuser(standby, "SELECT pg_wal_replay_resume()")
        superuser(primary, "ALTER SYSTEM SET max_slot_wal_keep_size = '16MB'")
        superuser(primary, "SELECT pg_reload_conf()")
        for _ in range(3):
            switch_and_wait_archived(primary)
        superuser(primary, "CHECKPOINT")
        wait_for("idle_slot lost", lambda: superuser(
            primary, "SELECT wal_status FROM pg_replication_slots WHERE slot_name = "
                     "'idle_slot'") == "lost")
        collect(world.config, PRIMARY, ["replication_slots"])
        state = world.states(PRIMARY)["slot_retention"]
        assert state["severity"] == "critical" and "idle_slot (lost)" in state["message"]
    finally:
        standby.destroy()
        superuser(primary, "ALTER SYSTEM RESET max_slot_wal_keep_size")
        superuser(primary, "SELECT pg_reload_conf()")
        for slot in ("idle_slot", "standby_slot"):
            superuser(primary, "SELECT pg_drop_replication_slot(slot_name) FROM "
                      "pg_replication_slots WHERE slot_name = %s", [slot])


# -- last: a gap in the archive ----------------------------------------------------------------

def test_a_segment_missing_from_the_archive_is_a_gap_and_shortens_the_window(
        world: World) -> None:
    backups = world.store("SELECT label, backup_type, wal_start, wal_stop, stop_time "
                          "FROM kasho_ops.pgbackrest_backups WHERE target = %s AND "
                          "collected_at = (SELECT max(collected_at) FROM "
                          "kasho_ops.pgbackrest_backups WHERE target = %s) "
                          "ORDER BY stop_time", [PRIMARY, PRIMARY])
    full, incr = backups
    archive = next((world.repository.repo / "archive" / "kasho").glob("15-*"))
    between = sorted(p for p in archive.glob("*/*") if full["wal_stop"] < p.name[:24] <
                     incr["wal_start"] and "-" in p.name)
    assert between, "the setup archives segments between the two backups"
    removed = between[0].name[:24]
    between[0].unlink()

    collector = open_collector(world.config, [])
    try:
        assert collect_pgbackrest(collector.store, world.config.target(PRIMARY)).error is None
    finally:
        collector.store.close()
    stanza = world.store("SELECT * FROM kasho_ops.pgbackrest_stanzas WHERE target = %s "
                         "ORDER BY collected_at DESC LIMIT 1", [PRIMARY])[0]
    assert stanza["wal_gap_count"] == 1 and stanza["wal_gaps"] == removed
    # Only the incremental, after the gap, still reaches the newest WAL.
    assert stanza["pitr_start"] == incr["stop_time"]
    state = world.states(PRIMARY)["wal_gap"]
    assert state["severity"] == "critical" and removed in state["message"]
    assert json.dumps(state["value"]) == "1.0"
