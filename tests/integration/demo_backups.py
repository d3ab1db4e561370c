"""What `kasho-ops demo` must show for backups and replication within three minutes of its
start (called by test_demo.py): a full backup in the store, a passed restore drill, the
streaming standby seen from the primary and recognised as a standby, recovery states."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg

from demo.backups import STANDBY_TARGET

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


def assert_backups_and_replica_shown(store_dsn: str, deadline: float) -> None:
    """Poll the store until every check holds, or fail naming the ones that did not."""
    missing = list(CHECKS)
    with psycopg.connect(store_dsn, autocommit=True) as conn:
        while missing and time.monotonic() < deadline:
            missing = [name for name in missing
                       if not conn.execute(CHECKS[name]).fetchone()[0]]  # type: ignore[index]
            time.sleep(1)
    assert not missing, f"the demo did not show {', '.join(missing)} in time"


def assert_standby_stopped(home: Path) -> None:
    assert not (home / "demo" / "standby" / "data" / "postmaster.pid").exists()
