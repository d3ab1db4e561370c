"""`kasho-ops restore-drill`: prove that a target can be restored, and to when.

It asks pgBackRest for the newest good backup that ends before the requested time (or the
newest of all), restores it into a fresh scratch directory with `pgbackrest restore` (never
the server's own data directory: the path is given explicitly and any `pg1-host` of the
stanza is reset), replays archived WAL up to the requested time (or to the end of the
archive) and promotes, starts it on a spare loopback port (scratch.py), and checks:

  restored         pgBackRest restored the backup
  recovered        recovery finished and the server accepted connections
  reached_target   recovery stopped at the requested time (from the server's own log line),
                   and the last replayed commit is not after it
  tables_answer    Kasho's tables (users, accounts, transactions) answer a row count
  newest_transaction  the newest transactions.created_at is not after the recovered-to time

The result (duration, recovered-to time, checks, row counts, outcome) is one row in
`kasho_ops.restore_drills`; the scratch copy is removed whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import psycopg
import psycopg.conninfo
from psycopg import sql

from collectors.backups.info import Backup, newest_good, parse_info
from collectors.backups.pgbackrest import PgBackRestError, info_args, run_pgbackrest
from collectors.backups.scratch import DrillError, ScratchServer, give_to_server_user
from collectors.backups.settings import BackupSettings
from collectors.core.config import Config, Target
from collectors.core.connections import describe_error
from collectors.core.errors import ConfigError, KashoOpsError
from collectors.core.query_marker import marked
from collectors.core.redact import Secret

KASHO_TABLES = ("users", "accounts", "transactions")
# The checks on the restored copy, marked like every statement Kasho Ops sends.
REPLAY_TIME_SQL = marked("SELECT pg_last_xact_replay_timestamp()")
ROW_COUNT_SQL = marked("SELECT count(*) FROM {}")  # composed with the table's identifier
NEWEST_TRANSACTION_SQL = marked("SELECT max(created_at) FROM transactions")
Trigger = Literal["command", "schedule"]


@dataclass(frozen=True)
class DrillCheck:
    name: str
    passed: bool
    detail: str


@dataclass
class DrillResult:
    target: str
    stanza: str
    started_at: datetime
    trigger: Trigger
    requested_time: datetime | None
    finished_at: datetime | None = None
    backup_label: str | None = None
    recovered_to: datetime | None = None
    newest_transaction_at: datetime | None = None
    restore_seconds: float | None = None
    recovery_seconds: float | None = None
    checks: list[DrillCheck] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def outcome(self) -> str:
        passed = self.error is None and bool(self.checks) and all(c.passed for c in self.checks)
        return "passed" if passed else "failed"

    @property
    def duration_seconds(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return (end - self.started_at).total_seconds()

    def check(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(DrillCheck(name, passed, detail))
        return passed


def choose_backup(backups: tuple[Backup, ...], to: datetime | None) -> Backup:
    """The newest good backup; with a target time, the newest that ended before it."""
    candidates = [b for b in backups if to is None or b.stop < to]
    chosen = newest_good(candidates)
    if chosen is None:
        when = f" that ended before {to:%Y-%m-%d %H:%M:%S} UTC" if to else ""
        raise DrillError(f"no good backup{when} in the repository")
    return chosen


def restore_args(stanza: str, label: str, data_dir: Path, scratch: Path,
                 to: datetime | None) -> list[str]:
    """`pgbackrest restore` into the scratch directory only: an explicit data path, any
    pg1-host of the stanza reset, tablespaces mapped inside the scratch directory, and
    archive_mode off so the copy never archives into the real repository."""
    args = [f"--stanza={stanza}", f"--pg1-path={data_dir}", "--reset-pg1-host",
            f"--set={label}", "--archive-mode=off",
            f"--tablespace-map-all={scratch / 'tablespaces'}", "--log-level-console=warn"]
    if to is None:
        args.append("--type=default")  # replay to the end of the archive, then promote
    else:
        args += ["--type=time", f"--target={to.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}+00",
                 "--target-action=promote"]
    return [*args, "restore"]


def find_pg_bin(settings: BackupSettings, major: str | None) -> Path:
    candidates = [settings.drill_pg_bin] if settings.drill_pg_bin else []
    if major:
        candidates.append(Path(f"/usr/lib/postgresql/{major}/bin"))
    if os.environ.get("KASHO_OPS_PG_BIN"):  # where the demo and the tests find a server
        candidates.append(Path(os.environ["KASHO_OPS_PG_BIN"]))
    for candidate in candidates:
        if candidate is not None and (candidate / "postgres").exists():
            return candidate
    raise DrillError(f"no PostgreSQL {major or ''} server binaries found for the drill; set "
                     "[backups] drill_pg_bin to the directory holding postgres and pg_ctl")


def drill_database(target: Target) -> str:
    params = psycopg.conninfo.conninfo_to_dict(target.dsn.reveal())
    return str(params.get("dbname") or params.get("user") or "postgres")


def run_drill(config: Config, target: Target, to: datetime | None,
              trigger: Trigger = "command") -> DrillResult:
    source = target.pgbackrest
    if source is None:
        raise ConfigError(f"target {target.name} has no pgbackrest_stanza: a drill restores "
                          "from pgBackRest; add pgbackrest_stanza to its [[targets]] table")
    settings = config.backups
    result = DrillResult(target.name, source.stanza, datetime.now(UTC), trigger, to)
    deadline = time.monotonic() + settings.drill_timeout_seconds
    scratch: Path | None = None
    server: ScratchServer | None = None
    try:
        command = settings.drill_pgbackrest_command
        info = parse_info(run_pgbackrest(command, info_args(source.stanza)), source.stanza)
        backup = choose_backup(info.backups, to)
        result.backup_label = backup.label
        pg_bin = find_pg_bin(settings, info.db_version)
        if settings.drill_scratch_dir is not None:
            settings.drill_scratch_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="kasho-ops-drill-", dir=settings.drill_scratch_dir))
        give_to_server_user(scratch)
        server = ScratchServer(scratch, pg_bin)
        server.data_dir.mkdir(mode=0o700)
        give_to_server_user(server.data_dir)
        clock = time.monotonic()
        run_pgbackrest(command, restore_args(source.stanza, backup.label, server.data_dir,
                                             scratch, to),
                       timeout_seconds=max(deadline - time.monotonic(), 1))
        result.restore_seconds = time.monotonic() - clock
        result.check("restored", True, f"backup {backup.label} ({backup.backup_type}, ended "
                     f"{backup.stop:%Y-%m-%d %H:%M:%S} UTC) restored in "
                     f"{result.restore_seconds:.1f} s")
        server.prepare()
        clock = time.monotonic()
        server.start()
        server.wait_promoted(deadline)
        result.recovery_seconds = time.monotonic() - clock
        result.check("recovered", True, f"WAL replayed and promoted in "
                     f"{result.recovery_seconds:.1f} s on 127.0.0.1:{server.port}")
        check_restored_data(server, drill_database(target), backup.stop, result)
    except (PgBackRestError, DrillError) as exc:
        result.error = str(exc)
        step = "restored" if not result.checks else "recovered"
        if len(result.checks) < 2:
            result.check(step, False, str(exc))
    except psycopg.Error as exc:
        result.error = f"the restored server did not answer: {str(exc).strip().splitlines()[0]}"
    finally:
        if server is not None:
            server.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        result.finished_at = datetime.now(UTC)
    return result


def check_restored_data(server: ScratchServer, dbname: str, backup_stop: datetime,
                        result: DrillResult) -> None:
    """The recovered-to time and the checks on the restored data. The recovered-to time is
    the requested time when recovery stopped there (the data is as of that moment, whether
    or not a commit was replayed since the backup); without a target it is the last replayed
    commit, or the backup's end when there was none."""
    target_time = result.requested_time
    with server.connect("postgres") as conn:
        row = conn.execute(REPLAY_TIME_SQL).fetchone()
    replayed = (row[0] if row else None) or server.last_transaction_in_log()
    if target_time is not None:
        stopped = server.stopped_at_target()
        reached = stopped is not None and (replayed is None or replayed <= target_time)
        result.recovered_to = target_time if reached else replayed
        result.check("reached_target", reached,
                     f"recovery stopped before the first commit after the target "
                     f"({_when(stopped)}); last replayed commit {_when(replayed)}, target "
                     f"{_when(target_time)}" if stopped is not None else
                     "recovery ended without reaching the target time: the archive holds no "
                     f"commit after {_when(target_time)}")
    else:
        result.recovered_to = replayed or backup_stop
        result.check("reached_target", True,
                     f"replayed to the end of the archive; last commit {_when(replayed)}")
    try:
        with server.connect(dbname) as conn:
            for table in KASHO_TABLES:
                count = conn.execute(sql.SQL(ROW_COUNT_SQL).format(
                    sql.Identifier(table))).fetchone()
                result.row_counts[table] = int(count[0]) if count else 0
            newest = conn.execute(NEWEST_TRANSACTION_SQL).fetchone()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        result.check("tables_answer", False, f"database {dbname}: {reason}")
        return
    result.check("tables_answer", True, ", ".join(f"{t} {n:,}" for t, n in
                                                  result.row_counts.items()))
    result.newest_transaction_at = newest[0] if newest else None
    limit = target_time if target_time is not None else result.recovered_to
    newest_at = result.newest_transaction_at
    in_time = newest_at is None or (limit is not None and newest_at <= limit)
    result.check("newest_transaction", in_time,
                 f"newest transactions.created_at {_when(newest_at)}, "
                 f"{'target' if target_time else 'recovered to'} {_when(limit)}")


def _when(value: datetime | None) -> str:
    return "—" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f} UTC"


def record_drill(store_dsn: Secret, result: DrillResult) -> None:
    """One row in kasho_ops.restore_drills; StoreUnavailable-style error if it cannot."""
    checks = [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in result.checks]
    try:
        with psycopg.connect(store_dsn.reveal(), application_name="kasho-ops-drill",
                             connect_timeout=5) as conn:
            conn.execute(
                "INSERT INTO kasho_ops.restore_drills (target, stanza, started_at, finished_at, "
                "duration_seconds, trigger, requested_time, backup_label, recovered_to, "
                "newest_transaction_at, restore_seconds, recovery_seconds, outcome, checks, "
                "row_counts, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s::jsonb, %s::jsonb, %s)",
                [result.target, result.stanza, result.started_at, result.finished_at,
                 result.duration_seconds, result.trigger, result.requested_time,
                 result.backup_label, result.recovered_to, result.newest_transaction_at,
                 result.restore_seconds, result.recovery_seconds, result.outcome,
                 json.dumps(checks), json.dumps(result.row_counts), result.error])
    except psycopg.Error as exc:
        raise KashoOpsError(f"the drill {result.outcome} but could not be recorded in the "
                            f"store: {describe_error(exc)}") from None
