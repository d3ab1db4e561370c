"""The demo's backups and replica: pgBackRest with a local repository, and a streaming standby.

- pgBackRest: a config and repository under `.kasho-ops/demo/pgbackrest/`, the demo cluster's
  archive_command switched to `pgbackrest archive-push` (the old copy-to-a-directory archive
  is emptied: it grew ~35 MB a minute with nothing removing it), a full backup at start, an
  incremental every INCREMENTAL_MINUTES and a full every FULL_MINUTES, with
  repo1-retention-full=2: pgBackRest expires older backups and their WAL after each backup,
  so the repository stays bounded. A restore drill runs a few minutes in
  (`kasho-ops restore-drill`), and the collector repeats it every 30 minutes.
- A streaming standby (`pg_basebackup -R -C -S kasho_standby`) under
  `.kasho-ops/demo/standby/` on a free port, recreated at every start, monitored as target
  `kasho-standby`.

Everything runs in one background thread and child processes (as the postgres OS user when
root); `stop()` ends them. Without pgbackrest on the PATH the demo runs without backups and
says so.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from collectors.backups.info import parse_info
from collectors.backups.pgbackrest import PgBackRestError, as_server_user, last_line
from collectors.backups.scratch import spare_loopback_port
from collectors.core.config import load_config
from collectors.core.errors import KashoOpsError
from demo.cluster import ClusterError, LocalCluster

STANZA = "kasho"
STANDBY_SLOT = "kasho_standby"
STANDBY_TARGET = "kasho-standby"
# With repo1-retention-full=2 the repository holds 15 to 30 minutes of WAL, two or three
# fulls and up to six incrementals. pgBackRest 2.45 has no block incremental: an incremental
# copies every changed file whole, so incrementals stay few.
INCREMENTAL_MINUTES = 5.0
FULL_MINUTES = 15.0
# The first drill runs a few minutes in, from the first full backup and the WAL since.
FIRST_DRILL_AFTER_SECONDS = float(os.environ.get("KASHO_OPS_DEMO_FIRST_DRILL_SECONDS", 150))
DEMO_BACKUP_SETTINGS = """
[backups]
# Demo schedule: minutes where production has hours and days.
pgbackrest_interval_seconds = 15
states_interval_seconds = 10
max_full_backup_age_hours = 1
max_backup_age_hours = 0.2
min_pitr_window_hours = 0.05
max_drill_age_days = 1
drill_interval_hours = 0.5
"""


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _server_owned(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


@dataclass
class DemoBackups:
    root: Path  # .kasho-ops/demo
    cluster: LocalCluster
    enabled: bool = False
    standby: LocalCluster | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _seeded: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _child: subprocess.Popen[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def home(self) -> Path:
        return self.root / "pgbackrest"

    @property
    def conf(self) -> Path:
        return self.home / "pgbackrest.conf"

    @property
    def command(self) -> list[str]:
        return ["pgbackrest", f"--config={self.conf}"]

    def write_pgbackrest_conf(self) -> None:
        repo, log, lock, spool = (_server_owned(self.home / d)
                                  for d in ("repo", "log", "lock", "spool"))
        _server_owned(self.home)
        self.conf.write_text(
            "# Written by `kasho-ops demo`: a local repository, bounded by retention.\n"
            f"[global]\nrepo1-path={repo}\nrepo1-retention-full=2\n"
            f"log-path={log}\nlock-path={lock}\nspool-path={spool}\n"
            "compress-type=zst\nstart-fast=y\nlog-level-console=warn\n"
            "log-level-file=info\n\n"
            f"[{STANZA}]\npg1-path={self.cluster.data_dir}\npg1-port={self.cluster.port}\n"
            f"pg1-socket-path={self.cluster.socket_dir}\npg1-user={self.cluster.superuser}\n")

    def prepare(self) -> None:
        """pgBackRest (config, stanza, archiving through it) and the standby, before the
        collector starts."""
        self._prepare_pgbackrest()
        self.start_standby(spare_loopback_port())

    def _prepare_pgbackrest(self) -> None:
        if shutil.which("pgbackrest") is None:
            say("pgbackrest not found: the demo runs without backups (apt-get install "
                "pgbackrest); its WAL archive is not bounded")
            return
        self.write_pgbackrest_conf()
        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            system_id = conn.execute(
                "SELECT system_identifier FROM pg_control_system()").fetchone()
        self._forget_repository_of_another_cluster(str(system_id[0]) if system_id else "")
        try:
            self._pgbackrest("stanza-create")
        except PgBackRestError as exc:  # e.g. a server newer than this pgBackRest knows
            say(f"pgBackRest cannot back up this server ({exc}): the demo runs without "
                "backups")
            return
        archive_command = (f"pgbackrest --config={shlex.quote(str(self.conf))} "
                           f"--stanza={STANZA} archive-push %p")
        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER SYSTEM SET archive_command = {}").format(
                sql.Literal(archive_command)))
            # As production does to bound the data at risk: a segment at least every minute.
            conn.execute("ALTER SYSTEM SET archive_timeout = '60s'")
            conn.execute("SELECT pg_reload_conf()")
        for old_segment in self.cluster.archive_dir.glob("*"):
            old_segment.unlink(missing_ok=True)  # the unbounded copy archive of earlier runs
        self.enabled = True
        say(f"pgBackRest: stanza {STANZA}, repository {self.home / 'repo'} "
            f"(full every {FULL_MINUTES:g} min, incremental every {INCREMENTAL_MINUTES:g} min, "
            "2 fulls kept)")

    def _forget_repository_of_another_cluster(self, system_id: str) -> None:
        """After `--reset` the repository belongs to the deleted cluster: start it over."""
        try:
            info = parse_info(self._pgbackrest("--output=json", "info"), STANZA)
        except PgBackRestError:
            return
        if info.system_id is not None and info.system_id != system_id:
            say("pgBackRest repository belongs to an earlier demo cluster: starting it over")
            shutil.rmtree(self.home / "repo", ignore_errors=True)
            _server_owned(self.home / "repo")

    def _pgbackrest(self, *args: str, timeout: float = 600) -> str:
        argv = as_server_user([*self.command, f"--stanza={STANZA}", *args])
        with self._lock:
            if self._stop.is_set():
                raise PgBackRestError("demo stopping")
            self._child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           cwd="/")
        try:
            out, err = self._child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._child.kill()
            out, err = self._child.communicate()
        finally:
            code = self._child.returncode
            self._child = None
        if code != 0:
            raise PgBackRestError(f"pgbackrest {' '.join(args)}: "
                                  f"{last_line((err or out).decode(errors='replace'))}")
        return out.decode(errors="replace")

    def config_toml(self) -> tuple[str, str]:
        """For the demo's kasho-ops.toml: the lines of target kasho's stanza, and the tables
        to add at the end (the [backups] settings, the standby target)."""
        stanza, tables = "", []
        if self.enabled:
            stanza = (f"pgbackrest_stanza = {toml_string(STANZA)}\n"
                      f"pgbackrest_command = {toml_string(shlex.join(self.command))}\n")
            tables += [DEMO_BACKUP_SETTINGS.strip(),
                       f"drill_pgbackrest_command = {toml_string(shlex.join(self.command))}",
                       f"drill_scratch_dir = {toml_string(str(self.root / 'drills'))}", ""]
        if self.standby is not None:
            monitor = self.standby.dsn("kasho", "kasho_ops_monitor")
            tables += ["[[targets]]", f"name = {toml_string(STANDBY_TARGET)}",
                       f"dsn = {toml_string(monitor)}", ""]
        return stanza, "\n".join(tables)

    def append_config(self, config_path: Path) -> None:
        """Add the stanza to target kasho's table and the rest at the end of the config."""
        stanza_lines, rest = self.config_toml()
        text = config_path.read_text()
        name_line = 'name = "kasho"\n'
        if stanza_lines and name_line not in text:
            raise KashoOpsError(f"{config_path} has no target named kasho for the stanza")
        text = text.replace(name_line, name_line + stanza_lines, 1)
        config_path.write_text(text.rstrip("\n") + "\n\n" + rest)
        loaded = load_config(config_path)
        if self.enabled and loaded.target("kasho").pgbackrest is None:
            raise KashoOpsError(f"{config_path}: the stanza did not land on target kasho; "
                                "its [[targets]] table must come last in the file")

    # -- the standby -------------------------------------------------------------------------

    def start_standby(self, port: int) -> None:
        """A fresh streaming standby with its own slot (a few seconds at demo scale)."""
        base = self.root / "standby"
        if base.exists():
            LocalCluster(base, port, install=self.cluster.install).destroy()
        with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE slot_name = %s AND NOT active", [STANDBY_SLOT])
        _server_owned(base)
        standby = LocalCluster(base, port, install=self.cluster.install)
        result = subprocess.run(
            as_server_user([str(standby.bin / "pg_basebackup"), "-h", "127.0.0.1",
                            "-p", str(self.cluster.port), "-U", self.cluster.superuser,
                            "-D", str(standby.data_dir), "-R", "-X", "stream", "-C",
                            "-S", STANDBY_SLOT, "-c", "fast"]),
            capture_output=True, text=True, cwd="/", check=False)
        if result.returncode != 0:
            raise ClusterError(f"pg_basebackup failed: {result.stderr.strip()[-300:]}")
        _server_owned(standby.socket_dir)
        with (standby.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"\nport = {port}\nunix_socket_directories = '{standby.socket_dir}'\n"
                       "cluster_name = 'kasho-standby'\n")
        standby.start()
        self.standby = standby
        say(f"streaming standby on 127.0.0.1:{port} (slot {STANDBY_SLOT}), target "
            f"{STANDBY_TARGET}")

    # -- the schedule ------------------------------------------------------------------------

    def start(self, config_path: Path, logs: Path) -> None:
        if not self.enabled:
            return
        self._thread = threading.Thread(target=self._run, args=(config_path, logs),
                                        name="demo-backups", daemon=True)
        self._thread.start()

    def _run(self, config_path: Path, logs: Path) -> None:
        started = time.monotonic()
        log = logs / "backups.log"
        next_full = next_incremental = started
        drill_at: float | None = started + FIRST_DRILL_AFTER_SECONDS
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= next_full:
                self._backup("full", log)
                next_full = time.monotonic() + FULL_MINUTES * 60
                next_incremental = time.monotonic() + INCREMENTAL_MINUTES * 60
            elif now >= next_incremental:
                self._backup("incr", log)
                next_incremental = time.monotonic() + INCREMENTAL_MINUTES * 60
            if drill_at is not None and time.monotonic() >= drill_at and self._seeded.is_set():
                self._drill(config_path, log)
                drill_at = None
            self._stop.wait(1.0)

    def _backup(self, backup_type: str, log: Path) -> None:
        clock = time.monotonic()
        try:
            self._pgbackrest(f"--type={backup_type}", "backup", timeout=3600)
        except PgBackRestError as exc:
            _append(log, f"{backup_type} backup failed: {exc}")
            return
        _append(log, f"{backup_type} backup done in {time.monotonic() - clock:.0f} s")

    def _drill(self, config_path: Path, log: Path) -> None:
        with log.open("ab") as output, self._lock:
            if self._stop.is_set():
                return
            self._child = subprocess.Popen(
                [sys.executable, "-m", "collectors.cli", "restore-drill", "--config",
                 str(config_path), "--target", "kasho"], stdout=output,
                stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])
            child = self._child
        child.wait()
        with self._lock:
            self._child = None
        _append(log, f"restore drill exited with {child.returncode}")

    def seeded(self) -> None:
        """The Kasho data is in place: the first drill may check it."""
        self._seeded.set()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._child is not None and self._child.poll() is None:
                self._child.terminate()
        if self._thread is not None:
            self._thread.join(60)
        if self.standby is not None:
            self.standby.stop()


def _append(log: Path, line: str) -> None:
    with log.open("a") as output:
        output.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
