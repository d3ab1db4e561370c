"""A throwaway PostgreSQL 15 cluster from the system's binaries, for the demo and the tests.

PostgreSQL refuses to run as root, so when our euid is 0 every server binary runs as the
`postgres` OS user through runuser, in a data directory owned by that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_CANDIDATES = ("/usr/lib/postgresql/15/bin",)
INSTALL_HINT = (
    "PostgreSQL 15 server binaries not found in /usr/lib/postgresql/15/bin; "
    "install them with: sudo apt-get install postgresql-15 postgresql-contrib "
    "(or set KASHO_OPS_PG_BIN to the directory holding initdb and pg_ctl)"
)


class ClusterError(RuntimeError):
    """The local cluster could not be created or started; the message says why."""


def find_pg_bin() -> Path:
    configured = os.environ.get("KASHO_OPS_PG_BIN")
    for candidate in ([configured] if configured else []) + list(PG_BIN_CANDIDATES):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise ClusterError(INSTALL_HINT)


def _as_postgres_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


DEFAULT_SETTINGS: dict[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "'all'",
    "track_io_timing": "on",
    "wal_level": "replica",
    "archive_mode": "on",
    "max_wal_senders": "5",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
    "logging_collector": "off",
}


@dataclass
class LocalCluster:
    """One PostgreSQL cluster under `base_dir`: data in `data/`, archived WAL in `archive/`."""

    base_dir: Path
    port: int
    settings: dict[str, str] = field(default_factory=dict)
    superuser: str = "postgres"

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).resolve()
        self.bin = find_pg_bin()

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def archive_dir(self) -> Path:
        return self.base_dir / "archive"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "socket"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def dsn(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user or self.superuser}"

    def url(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = _as_postgres_user([str(self.bin / argv[0]), *argv[1:]])
        result = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise ClusterError(f"{argv[0]} failed: {detail[-1] if detail else result.returncode}")
        return result

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        for path in (self.base_dir, self.archive_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            _chown_to_postgres(path)
        if os.geteuid() == 0:
            # The postgres user must be able to traverse every parent of the data directory.
            for parent in self.base_dir.parents:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        self._run("initdb", "-D", str(self.data_dir), "-U", self.superuser, "-A", "trust",
                  "--encoding=UTF8", "--locale=C.UTF-8")
        settings = {
            **DEFAULT_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "archive_command": f"'test ! -f {self.archive_dir}/%f && cp %p {self.archive_dir}/%f'",
            **self.settings,
        }
        conf = "\n".join(f"{key} = {value}" for key, value in settings.items())
        with open(self.data_dir / "postgresql.auto.conf", "a") as auto_conf:
            auto_conf.write("\n" + conf + "\n")
        with open(self.data_dir / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")

    def start(self, timeout_seconds: int = 30) -> None:
        if not self.is_initialized():
            self.init()
        if self.is_running():
            return
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-w",
                  "-t", str(timeout_seconds), "start")

    def is_running(self) -> bool:
        cmd = _as_postgres_user([str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "status"])
        return subprocess.run(cmd, capture_output=True, cwd="/").returncode == 0

    def stop(self, mode: str = "fast") -> None:
        # The pid file is there from start until the postmaster has fully shut down.
        if not (self.data_dir / "postmaster.pid").exists():
            return
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "120", "stop")
        except ClusterError:
            if self.is_running():
                raise  # a stale pid file after a crash is not an error; a live server is

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-m", "fast",
                  "-w", "restart")

    def wait_ready(self, timeout_seconds: float = 10) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            cmd = _as_postgres_user([str(self.bin / "pg_isready"), "-h", "127.0.0.1",
                                     "-p", str(self.port)])
            if subprocess.run(cmd, capture_output=True, cwd="/").returncode == 0:
                return
            time.sleep(0.1)
        raise ClusterError(f"PostgreSQL on port {self.port} did not become ready")

    def destroy(self) -> None:
        self.stop(mode="immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)
