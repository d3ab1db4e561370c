"""pgBackRest's output read as pgBackRest 2.45 printed it (tests/unit/data/), and the WAL
gap and point-in-time window rules on crafted archives."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from collectors.backups.info import (
    Backup,
    Retention,
    check_wal,
    first_wal_retained,
    parse_help_options,
    parse_info,
    parse_retention,
    parse_wal_listing,
    pitr_window,
    segment_name,
    segment_number,
)
from collectors.backups.pgbackrest import PgBackRestError

DATA = Path(__file__).parent / "data"
INFO = (DATA / "pgbackrest_info.json").read_text()
HELP = (DATA / "pgbackrest_help_expire.txt").read_text()
LISTING = (DATA / "pgbackrest_repo_ls.json").read_text()
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_info_is_read_as_pgbackrest_prints_it() -> None:
    info = parse_info(INFO, "demo")
    assert (info.name, info.status_code, info.status_message) == ("demo", 0, "ok")
    assert info.cipher == "none" and not info.backup_in_progress
    assert (info.repo_status_code, info.db_version) == (0, "15")
    # Kept as text: jq and JSON numbers in other tools round a 64-bit system identifier.
    assert info.system_id == "7714469151263038917"
    assert (info.archive_id, info.archive_min, info.archive_max) == (
        "15-1", "000000010000000000000001", "000000010000000000000008")
    full, incr = info.backups
    assert (full.backup_type, incr.backup_type) == ("full", "incr")
    assert full.label == "20261201-224020F" and incr.prior_label == full.label
    assert full.start == datetime.fromtimestamp(1796164820, UTC)
    assert full.duration_seconds == 3.0
    assert (full.database_size_bytes, full.backup_size_bytes) == (22992969, 22992969)
    assert (incr.backup_size_bytes, incr.repo_delta_bytes, incr.repo_size_bytes) == \
        (8458, 488, 4522682)
    assert (incr.wal_start, incr.wal_stop) == ("000000010000000000000004",
                                               "000000010000000000000005")
    assert (full.references_count, incr.references_count) == (0, 1)
    assert info.pgbackrest_version == "2.45"


def test_info_failures_are_one_line_errors() -> None:
    with pytest.raises(PgBackRestError, match="does not list stanza 'main'"):
        parse_info(INFO, "main")
    with pytest.raises(PgBackRestError, match="did not return JSON"):
        parse_info("ERROR: [055]: unable to load info file", "demo")
    broken = json.loads(INFO)
    del broken[0]["status"]
    with pytest.raises(PgBackRestError, match="not in the expected shape"):
        parse_info(json.dumps(broken), "demo")


def test_a_stanza_without_backups_and_a_running_backup() -> None:
    raw = json.loads(INFO)[0]
    raw.update(backup=[], status={"code": 2, "message": "no valid backups",
                                  "lock": {"backup": {"held": True}}})
    info = parse_info(json.dumps([raw]), "demo")
    assert info.backups == () and info.status_code == 2 and info.backup_in_progress
    assert info.pgbackrest_version is None


def test_retention_comes_from_help_current_or_default() -> None:
    options = parse_help_options(HELP)
    assert options["repo-retention-full"] == {"current": "2"}
    assert options["repo-retention-archive-type"] == {"default": "full"}
    assert options["config"]["current"] == "/tmp/bk-exp/pgbackrest.conf"
    assert parse_retention(HELP) == Retention(full=2, full_type="count", diff=None,
                                              archive=None, archive_type="full")


def test_retention_notes_wrapped_over_lines() -> None:
    text = ("Command Options:\n\n"
            "  --repo-retention-diff             number of differential backups to retain\n"
            "                                    [current=7]\n"
            "  --repo-retention-full-type        retention type for full backups\n"
            "                                    [current=time, default=count]\n")
    assert parse_retention(text) == Retention(None, "time", 7, None, "full")


def test_wal_listing_keeps_segments_only() -> None:
    segments = parse_wal_listing(LISTING)
    assert sorted(segments) == [f"0000000100000000000000{n:02X}" for n in range(1, 9)]
    assert all(t.tzinfo is UTC for t in segments.values())
    with pytest.raises(PgBackRestError):
        parse_wal_listing("[]")


def test_segment_numbers_follow_the_segment_size() -> None:
    assert segment_number("000000010000000100000002") == 256 + 2
    assert segment_number("000000010000000100000002", 64 * 1024 * 1024) == 64 + 2
    assert segment_name("00000002", 258) == "000000020000000100000002"
    with pytest.raises(ValueError):
        segment_number("00000002.history")


def archive(numbers: list[int], timeline: str = "00000001") -> dict[str, datetime]:
    return {segment_name(timeline, n): T0 + timedelta(minutes=n) for n in numbers}


def backup(label: str, kind: str, wal_start: int, wal_stop: int, error: bool = False) -> Backup:
    return Backup(label=label, backup_type=kind, prior_label=None,
                  start=T0 + timedelta(minutes=wal_start) - timedelta(seconds=30),
                  stop=T0 + timedelta(minutes=wal_stop), database_size_bytes=1,
                  backup_size_bytes=1, repo_size_bytes=1, repo_delta_bytes=1,
                  wal_start=segment_name("00000001", wal_start),
                  wal_stop=segment_name("00000001", wal_stop), lsn_start=None, lsn_stop=None,
                  error=error, references_count=0)


def test_continuous_archive_has_no_gap_and_a_window_to_the_newest_segment() -> None:
    backups = [backup("F1", "full", 2, 3), backup("I1", "incr", 6, 7)]
    check = check_wal(archive(list(range(1, 12))), first_wal_retained(backups, None))
    assert (check.segments, check.missing, check.gaps) == (10, 0, ())
    window = pitr_window(backups, check, None)
    assert window is not None
    assert (window.start, window.end) == (T0 + timedelta(minutes=3), T0 + timedelta(minutes=11))


def test_a_gap_moves_the_window_past_it() -> None:
    backups = [backup("F1", "full", 2, 3), backup("I1", "incr", 8, 9)]
    check = check_wal(archive([2, 3, 4, 6, 7, 8, 9, 10]), "000000010000000000000002")
    assert check.missing == 1 and check.gaps_text == "000000010000000000000005"
    assert check.gaps[0].preceding_time == T0 + timedelta(minutes=4)
    window = pitr_window(backups, check, None)
    assert window is not None and window.start == T0 + timedelta(minutes=9)
    assert window.end == T0 + timedelta(minutes=10)


def test_a_gap_after_the_newest_backup_ends_the_window_before_it() -> None:
    backups = [backup("F1", "full", 2, 3)]
    check = check_wal(archive([2, 3, 4, 5, 9, 10]), "000000010000000000000002")
    assert check.gaps_text == "000000010000000000000006…000000010000000000000008"
    assert check.missing == 3
    window = pitr_window(backups, check, None)
    assert window is not None
    assert (window.start, window.end) == (T0 + timedelta(minutes=3), T0 + timedelta(minutes=5))


def test_a_promotion_continues_the_numbering_on_the_new_timeline() -> None:
    segments = {**archive([2, 3, 4]), **archive([5, 6], timeline="00000002")}
    assert check_wal(segments, "000000010000000000000002").gaps == ()


def test_many_gaps_are_summarised() -> None:
    check = check_wal(archive([1, 3, 5, 7, 9, 11]), "000000010000000000000001")
    assert check.missing == 5
    assert check.gaps_text.endswith("and 2 more")


def test_archive_retention_starts_the_check_at_the_oldest_backup_it_keeps_wal_for() -> None:
    backups = [backup("F1", "full", 2, 3), backup("D1", "diff", 5, 6),
               backup("F2", "full", 8, 9), backup("I2", "incr", 11, 12)]
    assert first_wal_retained(backups, None) == segment_name("00000001", 2)
    keep = Retention(full=2, full_type="count", diff=None, archive=1, archive_type="full")
    assert first_wal_retained(backups, keep) == segment_name("00000001", 8)
    assert first_wal_retained(backups, replace(keep, archive=2, archive_type="diff")) == \
        segment_name("00000001", 5)
    assert first_wal_retained(backups, replace(keep, archive_type="incr")) == \
        segment_name("00000001", 11)


def test_backups_with_errors_do_not_count() -> None:
    backups = [backup("F1", "full", 2, 3, error=True), backup("F2", "full", 5, 6)]
    window = pitr_window(backups, None, T0 + timedelta(minutes=20))
    assert window is not None
    assert (window.start, window.end) == (T0 + timedelta(minutes=6), T0 + timedelta(minutes=20))
    assert window.hours == pytest.approx(14 / 60)
    assert pitr_window([backups[0]], None, None) is None
