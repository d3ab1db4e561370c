"""What `kasho-ops demo` must show for backups and replication within three minutes of its
start (called by test_demo.py): a full backup in the store, a passed restore drill, the
streaming standby seen from the primary and recognised as a standby, recovery states. On a
server newer than the installed pgBackRest supports (2.45 and the wheel's PostgreSQL 18),
the demo runs without backups and says so; the standby is there all the same."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from demo.backups import STANDBY_TARGET

BACKUP_CHECKS = ("a full backup", "a passed restore drill", "recovery states")
CHECKS = {
    "a full backup": "SELECT count(*) FROM kasho_ops.pgbackrest_backups "
                     "WHERE target = 'kasho' AND backup_type = 'full'",
    "a passed restore drill": "SELECT count(*) FROM kasho_ops.restore_drills "
                              "WHERE target = 'kasho' AND outcome = 'passed'",
    "the standby streaming": "SELECT count(*) FROM kasho_ops.replication_standbys "
                             "WHERE target = 'kasho' AND state = 'streaming' "
                             "AND slot_name = 'kasho_standby'",
    "the standby recognised": "SELECT count(*) FROM kasho_ops.recovery_status "
                              f"WHERE target = '{STANDBY_TARGET}' AND in_recovery",
    "recovery states": "SELECT count(*) FROM kasho_ops.recovery_states_latest "
                       "WHERE target = 'kasho' AND state = 'pgbackrest' AND severity = 'ok'",
}


# The drill restores and replays after the first full backup: on a loaded machine it may
# finish after the three minutes the pages' other data must meet.
DRILL_GRACE_SECONDS = 120


def assert_backups_and_replica_shown(store_dsn: str, started: float,
                                    backups: bool = True) -> None:
    """Poll the store until every check holds (the drill with some grace), or fail naming
    the ones that did not."""
    missing = [name for name in CHECKS if backups or name not in BACKUP_CHECKS]
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        while missing:
            elapsed = time.monotonic() - started
            missing = [name for name in missing
                       if not conn.execute(CHECKS[name]).fetchone()[0]]  # type: ignore[index]
            late = [name for name in missing if name != "a passed restore drill"
                    or elapsed > 180 + DRILL_GRACE_SECONDS]
            assert not (late and elapsed > 180), \
                f"the demo did not show {', '.join(late)} within {elapsed:.0f} s"
            time.sleep(1)


def assert_standby_stopped(home: Path) -> None:
    assert not (home / "demo" / "standby" / "data" / "postmaster.pid").exists()
