"""A live payments workload on a seeded Kasho database: pgbench running demo/workload/*.sql.

pgbench runs as a child process with application_name 'kasho-demo-workload', its output in
`log_path`. It always gets a `-T` deadline (a decade when no duration is asked for), because
pgbench ends a `-T` run on SIGALRM the clean way: clients finish their transaction, the
connections close and the report is printed. `Workload.stop()` sends that signal first.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from collectors.core.connections import describe_error
from collectors.core.errors import KashoOpsError
from demo.cluster import find_pg_bin

APPLICATION_NAME = "kasho-demo-workload"
SCRIPTS_DIR = Path(__file__).resolve().parent / "workload"
# Reads dominate; the monthly report is rare but slow, the top query by total time.
DEFAULT_SCRIPT_WEIGHTS: dict[str, int] = {
    "read_balance": 300, "recent_transactions": 250, "transfer": 120, "deposit": 120,
    "card_payment": 120, "settle_pending": 25, "reverse_payment": 5, "monthly_summary": 1,
}
UNBOUNDED_SECONDS = 10 * 365 * 24 * 3600
PROGRESS_SECONDS = 5
MAX_TRIES = 3  # deadlock and serialization failures are retried, as a payments app would

_PROCESSED = re.compile(r"^number of transactions actually processed: (\d+)", re.M)
_FAILED = re.compile(r"^number of failed transactions: (\d+)", re.M)
_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)
_ABORTED = re.compile(r"client \d+ (?:script \d+ )?aborted in command[^\n]*")
_SCRIPT = re.compile(r"^SQL script \d+: (\S+)\n(?: - weight[^\n]*\n)? - (\d+) transactions", re.M)


class WorkloadError(KashoOpsError):
    """The workload cannot start; the message says why, in one line."""


@dataclass(frozen=True)
class WorkloadReport:
    """pgbench's closing report; `transactions` is None when pgbench printed none."""

    exit_code: int
    transactions: int | None
    failed_transactions: int | None
    tps: float | None
    aborted_clients: list[str]
    transactions_by_script: dict[str, int]


@dataclass
class Workload:
    process: subprocess.Popen[bytes]
    log_path: Path
    command: list[str] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout_seconds: float | None = None) -> int:
        return self.process.wait(timeout_seconds)

    def stop(self, timeout_seconds: float = 15) -> int:
        """End the run cleanly (SIGALRM), escalating to SIGTERM and SIGKILL; the exit code."""
        for stop_signal in (signal.SIGALRM, signal.SIGTERM, signal.SIGKILL):
            if not self.is_running():
                break
            self.process.send_signal(stop_signal)
            try:
                return self.process.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                continue
        return self.process.wait()

    def report(self) -> WorkloadReport:
        """Parse the log once pgbench has exited."""
        exit_code = self.wait()
        text = self.log_path.read_text(errors="replace")
        processed, failed, tps = (_PROCESSED.search(text), _FAILED.search(text),
                                  _TPS.search(text))
        return WorkloadReport(
            exit_code=exit_code,
            transactions=int(processed.group(1)) if processed else None,
            failed_transactions=int(failed.group(1)) if failed else None,
            tps=float(tps.group(1)) if tps else None,
            aborted_clients=_ABORTED.findall(text),
            transactions_by_script={Path(path).stem: int(count)
                                    for path, count in _SCRIPT.findall(text)})

    def __enter__(self) -> Workload:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def _open_account_count(conninfo: str) -> int:
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            if conn.execute("SELECT to_regclass('demo_accounts')").fetchone()[0] is None:
                raise WorkloadError("no demo_accounts table: seed the database first "
                                    "(demo.seed.seed)")
            return int(conn.execute("SELECT count(*) FROM demo_accounts").fetchone()[0])
    except psycopg.Error as exc:
        raise WorkloadError(f"cannot read demo_accounts: {describe_error(exc)}") from None


def start_workload(dsn: str, *, clients: int = 4, rate: float | None = None,
                   duration_seconds: int | None = None, log_path: Path,
                   scripts: Mapping[str | Path, int] | None = None,
                   pg_bin: Path | None = None, protocol: str = "prepared") -> Workload:
    """Launch pgbench against the seeded database at `dsn` (libpq conninfo or URL).

    `pg_bin` is where pgbench is (default: find_pg_bin(), the demo's server binaries).
    `protocol` is pgbench's query protocol: "extended" through a transaction-pooling
    PgBouncer, which keeps no prepared statements between transactions.
    `rate` limits transactions per second across all clients (pgbench -R); without
    `duration_seconds` it runs until `stop()`. `scripts` maps a script name in
    demo/workload/ (or a path) to its weight; the default is DEFAULT_SCRIPT_WEIGHTS.
    """
    if clients < 1:
        raise WorkloadError("clients must be at least 1")
    params: dict[str, Any] = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    params["application_name"] = APPLICATION_NAME
    conninfo = make_conninfo(**params)
    env = {**os.environ, "PGAPPNAME": APPLICATION_NAME}
    if password is not None:  # kept out of argv, which any local user can read
        env["PGPASSWORD"] = str(password)
    accounts = _open_account_count(make_conninfo(conninfo, password=password))
    if accounts < 2:
        raise WorkloadError(f"demo_accounts holds {accounts} open account(s); need at least 2")
    command = [str((pg_bin or find_pg_bin()) / "pgbench"), "--no-vacuum", f"--protocol={protocol}",
               f"--client={clients}", f"--jobs={min(clients, os.cpu_count() or 1)}",
               f"--time={duration_seconds or UNBOUNDED_SECONDS}", f"--max-tries={MAX_TRIES}",
               f"--progress={PROGRESS_SECONDS}", f"--define=accounts={accounts}"]
    if rate is not None:
        command.append(f"--rate={rate}")
    for script, weight in (scripts or DEFAULT_SCRIPT_WEIGHTS).items():
        path = Path(script) if isinstance(script, Path) else SCRIPTS_DIR / f"{script}.sql"
        if not path.is_file():
            raise WorkloadError(f"workload script {path} does not exist")
        command.append(f"--file={path}@{weight}")
    command.append(conninfo)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, cwd="/")
    return Workload(process, log_path, command)
