"""Backups and Replication pages' pure parts: tables, charts, recovery-state ordering and
the standby notice (shown through dashboard.core.plain.md, tested in test_hostile_text)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.core import recovery_states
from dashboard.features.backups import charts as backup_charts
from dashboard.features.backups import logic as backup_logic
from dashboard.features.replication import charts as replication_charts
from dashboard.features.replication import logic as replication_logic

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def ts(**delta: float) -> pd.Timestamp:
    return pd.Timestamp(NOW - timedelta(**delta))


def backups() -> pd.DataFrame:
    rows = [("F1", "full", ts(days=6, minutes=10), ts(days=6), False),
            ("F1_D1", "diff", ts(days=1, minutes=2), ts(days=1), False),
            ("F1_I1", "incr", ts(hours=2, minutes=1), ts(hours=2), True)]
    frame = pd.DataFrame(rows, columns=["label", "backup_type", "start_time", "stop_time",
                                        "error"])
    return frame.assign(duration_seconds=(frame["stop_time"] - frame["start_time"]).dt
                        .total_seconds(), database_size_bytes=3 * 2**30,
                        backup_size_bytes=[3 * 2**30, 2**28, 2**20], repo_size_bytes=2**30,
                        repo_delta_bytes=2**20, wal_start="000000010000000000000001",
                        wal_stop="000000010000000000000002", prior_label=None,
                        references_count=[0, 1, 1])


def test_backups_table_newest_first_and_errors_named() -> None:
    table = backup_logic.backups_table(backups())
    assert list(table["label"]) == ["F1_I1", "F1_D1", "F1"]
    assert list(table["type"]) == ["incremental", "differential", "full"]
    assert list(table["errors"]) == ["checksum errors", "", ""]
    assert table["database size"].iloc[0] == "3.0 GB" and table["duration"].iloc[2] == "10.0 min"


def test_last_good_backup_skips_the_one_with_errors() -> None:
    last = backup_logic.last_good_by_type(backups(), NOW)
    assert last["any"].label == "F1_D1" and last["full"].label == "F1"
    assert "incr" not in last and last["any"].age_seconds == 86400
    assert backup_logic.last_backups_line(last) == (
        "Last good backup: full 6 d ago · differential 24 h ago · incremental none")
    assert backup_logic.backup_tile_caption(last["any"]) == "diff · D1"
    assert backup_logic.backup_tile_caption(last["full"]) == "full · F1"
    stanza = pd.Series({"archive_min": "A", "archive_max": "B", "wal_checked": True,
                        "wal_segments": 1200, "wal_gap_count": 0, "wal_gaps": None})
    assert backup_logic.wal_continuity_line(stanza) == (
        "Archived WAL A → B: 1,200 segments from the oldest backup's start checked, no gap")
    gap = stanza.copy()
    gap["wal_gap_count"], gap["wal_gaps"] = 2, "X…Y"
    assert backup_logic.wal_continuity_line(gap).endswith("2 segments missing: X…Y")


def test_retention_beside_what_is_kept() -> None:
    stanza = pd.Series({"retention_full": 2, "retention_full_type": "count",
                        "retention_diff": None, "retention_archive": None,
                        "retention_archive_type": "full", "archive_min": "A", "archive_max": "B",
                        "pitr_start": ts(days=6), "pitr_end": ts(minutes=1)})
    table = backup_logic.retention_table(stanza, backups(), 24)
    rows = {r.setting: (r.configured, r._3) for r in table.itertuples()}
    assert rows["repo1-retention-full"] == ("2 backups (count)", "1 full backups")
    assert rows["repo1-retention-diff"] == ("not set", "1 differential, 1 incremental")
    assert rows["repo1-retention-archive"][0].startswith("not set: WAL kept for every backup")
    assert rows["oldest restorable point"][1] == "2025-02-23 12:00:00"
    assert not backup_logic.pitr_short(stanza, 24)
    short = stanza.copy()
    short["pitr_start"] = ts(hours=3)
    assert backup_logic.pitr_short(short, 24)
    store = backup_logic.store_retention_table(14, date(2025, 2, 15))
    assert store.iloc[0]["kept for"].startswith("14 days") and \
        store.iloc[0]["held now"] == "since 2025-02-15"


def test_drills_table_names_the_failed_check() -> None:
    drills = pd.DataFrame([
        {"started_at": ts(hours=1), "trigger": "dashboard", "requested_time": pd.NaT,
         "backup_label": "F1_D1", "recovered_to": ts(hours=1, minutes=2),
         "duration_seconds": 95.0, "row_counts": {"users": 10, "accounts": 20,
                                                  "transactions": 30000},
         "outcome": "passed", "checks": [{"name": "restored", "passed": True, "detail": ""}],
         "error": None, "actor": "ada@kasho.example", "actor_role": "admin"},
        {"started_at": ts(days=1), "trigger": "command", "requested_time": ts(days=1, hours=1),
         "backup_label": None, "recovered_to": pd.NaT, "duration_seconds": 3.0,
         "row_counts": "{}", "outcome": "failed",
         "checks": '[{"name": "restored", "passed": false, "detail": "no good backup"}]',
         "error": "no good backup", "actor": None, "actor_role": None}])
    table = backup_logic.drills_table(drills, NOW)
    assert list(table["trigger"]) == ["dashboard · ada@kasho.example (admin)", "command"]
    assert list(table["recover to"]) == ["end of archive", "2025-02-28 11:00:00"]
    assert table.iloc[0]["rows (users / accounts / transactions)"] == "10 / 20 / 30,000"
    assert list(table["failed check"]) == ["", "restored: no good backup"]


def test_a_recover_to_time_typed_on_the_page_is_utc_unless_it_says_otherwise() -> None:
    assert backup_logic.parse_drill_time("  ") is None
    assert backup_logic.parse_drill_time("2025-03-01 11:30") == datetime(
        2025, 3, 1, 11, 30, tzinfo=UTC)
    assert backup_logic.parse_drill_time("2025-03-01T12:30:00+01:00") == datetime(
        2025, 3, 1, 11, 30, tzinfo=UTC)
    assert backup_logic.parse_drill_time("2025-03-01T11:30:00Z") == datetime(
        2025, 3, 1, 11, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"^'last tuesday' is not a time: write it as ISO"):
        backup_logic.parse_drill_time("last tuesday")


def test_backup_timeline_draws_each_type_the_window_and_the_drills() -> None:
    drills = pd.DataFrame({"started_at": [ts(hours=1), ts(days=1)],
                           "outcome": ["passed", "failed"]})
    figure = backup_charts.backup_timeline_figure(backups(), drills, ts(days=6).to_pydatetime(),
                                                  NOW, NOW)
    assert figure is not None
    names = [trace.name for trace in figure.data]
    assert names == ["full", "differential", "incremental", "drill passed", "drill failed"]
    assert len(figure.layout.shapes) == 1 and figure.layout.xaxis.type == "date"
    assert backup_charts.backup_timeline_figure(backups().iloc[0:0], drills, None, None,
                                                NOW) is None


def test_archiving_charts() -> None:
    history = pd.DataFrame({"collected_at": [ts(minutes=2), ts(minutes=1)],
                            "archived": [3.0, 2.0], "failed": [0.0, 4.0],
                            "ready_count": [0.0, 2.0], "archive_lag_bytes": [0.0, 3 * 2**24]})
    figure = backup_charts.archiving_figure(history)
    assert figure is not None and [t.name for t in figure.data] == ["archived", "failed attempts"]
    backlog = backup_charts.backlog_figure(history)
    assert backlog is not None and backlog.layout.yaxis.title.text == "MB"
    assert backlog.layout.yaxis2.dtick == 1
    assert backup_charts.backlog_figure(history.assign(archive_lag_bytes=None)) is None


def test_replication_tables_and_charts() -> None:
    slots = pd.DataFrame([
        {"slot_name": "replica", "slot_type": "physical", "temporary": False, "active": True,
         "retained_wal_bytes": 2**20, "wal_status": "reserved", "safe_wal_size_bytes": None,
         "xmin_age": None, "database": "", "plugin": ""},
        {"slot_name": "old_cdc", "slot_type": "logical", "temporary": False, "active": False,
         "retained_wal_bytes": 5 * 2**30, "wal_status": "extended",
         "safe_wal_size_bytes": 2**30, "xmin_age": 123456, "database": "kasho",
         "plugin": "pgoutput"}])
    table = replication_logic.slots_table(slots)
    assert list(table["slot"]) == ["old_cdc", "replica"]
    assert list(table["active"]) == ["NO", "yes"]
    assert table.iloc[1]["safe_wal_size"].startswith("unlimited")
    assert table.iloc[0]["database / plugin"] == "kasho / pgoutput"
    assert list(replication_logic.inactive_slots_retaining(slots)["slot_name"]) == ["old_cdc"]

    history = pd.DataFrame({"collected_at": [ts(minutes=2), ts(minutes=1)] * 2,
                            "slot_name": ["replica", "replica", "old_cdc", "old_cdc"],
                            "retained_wal_bytes": [1e6, 2e6, 4e9, 5e9],
                            "active": [True, True, False, False]})
    figure = replication_charts.slot_retention_figure(history)
    assert figure is not None
    dashes = {t.name: t.line.dash for t in figure.data}
    assert dashes == {"old_cdc": "dot", "replica": "solid"}


def test_states_problems_first_and_tables() -> None:
    states = pd.DataFrame([
        {"collected_at": ts(), "state": "archiving", "severity": "ok", "value": 0,
         "threshold": 0, "message": "archiving works"},
        {"collected_at": ts(), "state": "backup_age", "severity": "warning", "value": 30,
         "threshold": 26, "message": "old"},
        {"collected_at": ts(), "state": "wal_gap", "severity": "critical", "value": 1,
         "threshold": 0, "message": "gap"},
        {"collected_at": ts(), "state": "slot_retention", "severity": "critical", "value": 1,
         "threshold": 0, "message": "lost"}])
    found = recovery_states.problems(states, recovery_states.BACKUP_STATES)
    assert list(found["state"]) == ["wal_gap", "backup_age"]
    table = recovery_states.states_table(states, recovery_states.BACKUP_STATES)
    assert list(table["check"]) == ["WAL archiving", "Last backup", "Archived WAL gaps"]
    recovery = pd.DataFrame([{"in_recovery": True, "upstream_host": "127.0.0.1",
                              "upstream_port": 5432, "upstream_slot": "replica_[1]",
                              "receiver_status": "streaming"}])
    assert recovery_states.standby_notice(recovery) == (
        "This target is a standby (in recovery): it streams from 127.0.0.1:5432 through slot "
        "replica_[1] (receiver streaming).")
    assert recovery_states.standby_notice(recovery.assign(in_recovery=False)) is None

