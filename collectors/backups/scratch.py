"""A restored copy of a cluster, started where it can do no harm, for a restore drill.

The server runs from the scratch data directory on a spare loopback port with settings that
keep it away from everything the original touches: no archiving (and no archive or
recovery-end commands, which could delete from or write to the real archive), no
replication upstream, no synchronous standbys, no preloaded libraries or SSL files the drill
host may lack, a small shared_buffers, and a pg_hba.conf of its own that lets in only local
socket connections (the socket lives in the scratch directory, mode 0700). Logs go to a file
in the scratch directory; the drill reads recovery's own report from it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import psycopg

from collectors.backups.pgbackrest import SERVER_OS_USER, as_server_user
from collectors.core.errors import KashoOpsError
from collectors.core.query_marker import marked

SHARED_BUFFERS = "128MB"
# What the drill asks the restored copy, marked like every statement Kasho Ops sends.
IN_RECOVERY_SQL = marked("SELECT pg_is_in_recovery()")
# PostgreSQL's own words at the end of recovery (LOG level, English messages).
_STOPPED_AT_TARGET = re.compile(r"recovery stopping (?:before|after) .*?time ([0-9][^\s,]* "
                                r"[0-9:.]+(?:[+-][0-9:]+| UTC)?)")
_LAST_TRANSACTION = re.compile(r"last completed transaction was at log time ([0-9][^\s]* "
                               r"[0-9:.]+(?:[+-][0-9:]+)?)")


class DrillError(KashoOpsError):
    """A drill step failed; the message is the reason recorded with the drill."""


def spare_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SERVER_OS_USER, SERVER_OS_USER)


def isolation_settings(port: int, socket_dir: Path, hba_file: Path) -> dict[str, str]:
    return {
        "port": str(port), "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(socket_dir), "hba_file": str(hba_file),
        "archive_mode": "off", "archive_command": "", "archive_cleanup_command": "",
        "recovery_end_command": "", "primary_conninfo": "", "primary_slot_name": "",
        "synchronous_standby_names": "", "shared_preload_libraries": "",
        "session_preload_libraries": "", "local_preload_libraries": "", "ssl": "off",
        "huge_pages": "off", "shared_buffers": SHARED_BUFFERS, "hot_standby": "off",
        "logging_collector": "off", "log_destination": "stderr",
        "log_min_messages": "log", "lc_messages": "C", "external_pid_file": "",
        "cluster_name": "kasho-ops-drill",
    }


class ScratchServer:
    """The restored cluster in `scratch/data`, run by `pg_bin/postgres` as the server user."""

    def __init__(self, scratch: Path, pg_bin: Path) -> None:
        self.scratch = scratch
        self.pg_bin = pg_bin
        self.data_dir = scratch / "data"
        self.socket_dir = scratch / "socket"
        self.log_file = scratch / "postgres.log"
        self.port = spare_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def prepare(self) -> None:
        """Our own pg_hba.conf, and a postgresql.conf where the original keeps it outside the
        data directory (Debian's /etc/postgresql/…): a backup holds only the data directory."""
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        give_to_server_user(self.socket_dir)
        hba = self.data_dir / "kasho-ops-drill-hba.conf"
        hba.write_text("# restore drill: local socket only\nlocal all all trust\n")
        give_to_server_user(hba)
        conf = self.data_dir / "postgresql.conf"
        if not conf.exists():
            conf.write_text("# written by the restore drill: the backup had none\n")
            give_to_server_user(conf)

    def start(self) -> None:
        settings = isolation_settings(self.port, self.socket_dir,
                                      self.data_dir / "kasho-ops-drill-hba.conf")
        argv = [str(self.pg_bin / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(as_server_user(argv), stdout=self._log,
                                         stderr=subprocess.STDOUT, cwd="/",
                                         start_new_session=True)

    def wait_promoted(self, deadline: float) -> None:
        """Until recovery has ended and the server accepts connections as a primary."""
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise DrillError(f"the restored server stopped during recovery: "
                                 f"{self.last_error_line()}")
            try:
                with self.connect("postgres") as conn:
                    row = conn.execute(IN_RECOVERY_SQL).fetchone()
                    if row is not None and not row[0]:
                        return
            except psycopg.OperationalError:
                pass
            time.sleep(0.5)
        raise DrillError("recovery did not finish before drill_timeout_seconds; "
                         f"last log line: {self.last_error_line()}")

    @contextmanager
    def connect(self, dbname: str) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(host=str(self.socket_dir), port=self.port, dbname=dbname,
                             user=SERVER_OS_USER, connect_timeout=3, autocommit=True,
                             application_name="kasho-ops-drill") as conn:
            yield conn

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def last_error_line(self) -> str:
        lines = [line.strip() for line in self.log_text().splitlines()
                 if re.search(r"\b(FATAL|PANIC|ERROR)\b", line)]
        if lines:
            return lines[-1]
        tail = [line.strip() for line in self.log_text().splitlines() if line.strip()]
        return tail[-1] if tail else "no log output"

    def stopped_at_target(self) -> datetime | None:
        """The commit time where recovery stopped for its target, from the server log."""
        match = _STOPPED_AT_TARGET.search(self.log_text())
        return _log_time(match.group(1)) if match else None

    def last_transaction_in_log(self) -> datetime | None:
        match = _LAST_TRANSACTION.search(self.log_text())
        return _log_time(match.group(1)) if match else None

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            with suppress(OSError):
                subprocess.run(as_server_user([str(self.pg_bin / "pg_ctl"), "-D",
                                               str(self.data_dir), "-m", "immediate", "-w",
                                               "-t", "60", "stop"]),
                               capture_output=True, cwd="/", timeout=90, check=False)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log is not None:
            self._log.close()


def _log_time(text: str) -> datetime | None:
    cleaned = text.strip().replace(" UTC", "+00:00")
    if re.search(r"[+-]\d\d$", cleaned):
        cleaned += ":00"
    try:
        return datetime.fromisoformat(cleaned)
    except ValueError:
        return None
