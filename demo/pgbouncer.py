"""A throwaway PgBouncer (Debian's `pgbouncer`) in front of a local cluster, for the demo and
the tests: transaction pooling, trust authentication on loopback, an admin console whose
`stats_users` is the monitoring role. As root it runs as the `postgres` OS user, like the
cluster. `find_pgbouncer()` is None where it is not installed (the demo then connects its
workload directly).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from demo.cluster import ClusterError

PGBOUNCER_CANDIDATES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


def find_pgbouncer() -> Path | None:
    found = shutil.which("pgbouncer")
    for candidate in ([found] if found else []) + list(PGBOUNCER_CANDIDATES):
        if candidate and Path(candidate).exists():
            return Path(candidate)
    return None


@dataclass
class LocalPgBouncer:
    """PgBouncer on 127.0.0.1:`port` pooling `databases` of the server at upstream_port."""

    base_dir: Path
    port: int
    upstream_port: int
    databases: Sequence[str]
    users: Sequence[str]  # every role that may log in (trust; listed in the auth file)
    stats_users: Sequence[str] = ()
    pool_mode: str = "transaction"
    default_pool_size: int = 5
    max_client_conn: int = 200
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def log_file(self) -> Path:
        return self.base_dir / "pgbouncer.log"

    def dsn(self, dbname: str, user: str) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"

    def admin_dsn(self, user: str) -> str:
        return self.dsn("pgbouncer", user)

    def _write_config(self) -> Path:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        databases = "\n".join(f"{name} = host=127.0.0.1 port={self.upstream_port} dbname={name}"
                              for name in self.databases)
        ini = self.base_dir / "pgbouncer.ini"
        ini.write_text(
            f"[databases]\n{databases}\n\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.base_dir / 'users.txt'}\n"
            f"stats_users = {', '.join(self.stats_users)}\n"
            f"pool_mode = {self.pool_mode}\ndefault_pool_size = {self.default_pool_size}\n"
            f"max_client_conn = {self.max_client_conn}\n"
            "application_name_add_host = 0\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.log_file}\npidfile = {self.base_dir / 'pgbouncer.pid'}\n")
        (self.base_dir / "users.txt").write_text(
            "".join(f'"{user}" ""\n' for user in self.users))
        if os.geteuid() == 0:
            for path in (self.base_dir, *self.base_dir.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        return ini

    def start(self, timeout_seconds: float = 15) -> None:
        binary = find_pgbouncer()
        if binary is None:
            raise ClusterError("pgbouncer is not installed: apt-get install pgbouncer")
        ini = self._write_config()
        argv = [str(binary), str(ini)]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        # A session of its own keeps a terminal's Ctrl-C away: the owner stops it.
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, cwd="/",
                                         start_new_session=True)
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ClusterError(f"pgbouncer exited with code {self._process.returncode}; "
                                   f"see {self.log_file}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        self.stop()
        raise ClusterError(f"pgbouncer did not listen on port {self.port} within "
                           f"{timeout_seconds:.0f} s; see {self.log_file}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)  # runuser and pgbouncer share the group
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
