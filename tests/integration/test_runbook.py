"""docs/backup-and-recovery.md, executed: its pgbackrest.conf and postgresql.conf on a real
server, then every shell block and crontab line in document order, as the user the block
names, with the documented variables set to throwaway values. Between blocks the test makes
the situation the next block is for (rows before and after the target time, an abandoned
slot) and checks what the commands did."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from collectors.core.config import load_config
from collectors.migrate import MigrationRunner
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.backup_setup import (
    KASHO_DDL,
    add_kasho_rows,
    kasho_counts,
    server_owned,
    switch_and_wait_archived,
)
from tests.pg import create_database, drop_database, free_port

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "backup-and-recovery.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
RUNNERS = ("# as postgres", "# as kasho-ops")
# The runbook's server is a cluster of the default install (PostgreSQL 15); pg_cluster only
# holds the store, so another major repeats the same.
pytestmark = pytest.mark.single_major


@dataclass
class Block:
    language: str
    text: str

    @property
    def runner(self) -> str:
        return self.text.splitlines()[0]

    @property
    def commands(self) -> list[str]:
        return [line for line in self.text.splitlines()[1:] if line.strip()]


def runbook_blocks() -> list[Block]:
    return [Block(m.group(1), m.group(2)) for m in FENCE.finditer(RUNBOOK.read_text())]


def test_every_shell_block_says_who_runs_it() -> None:
    blocks = runbook_blocks()
    shell = [b for b in blocks if b.language == "sh"]
    assert len(shell) >= 8
    assert {b.language for b in blocks} == {"sh", "ini", "conf", "crontab", "toml"}
    for block in shell:
        assert block.runner in RUNNERS, block.text


@dataclass
class Runbook:
    cluster: LocalCluster
    env: dict[str, str]
    store_dsn: str
    config_path: Path
    executed: list[str] = field(default_factory=list)

    def run(self, runner: str, script: str) -> str:
        argv = ["bash", "-euo", "pipefail", "-c", script]
        if runner == "# as postgres" and os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", "env",
                    *(f"{k}={v}" for k, v in self.env.items()), *argv]
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, cwd="/",
                                timeout=600, check=False)
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        self.executed.append(script)
        return result.stdout


def pgbackrest_conf(block: Block, base: Path, cluster: LocalCluster) -> str:
    """The runbook's pgbackrest.conf with the paths and port of the throwaway server."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(block.text)
    for key in ("repo1-path", "log-path", "lock-path", "spool-path"):
        parser["global"][key] = str(server_owned(base / "pgbackrest" / key.split("-")[0]))
    parser["kasho"].update({"pg1-path": str(cluster.data_dir), "pg1-port": str(cluster.port),
                            "pg1-socket-path": str(cluster.socket_dir)})
    lines = []
    for section in parser.sections():
        lines += [f"[{section}]", *(f"{k}={v}" for k, v in parser[section].items()), ""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def runbook(pg_cluster: LocalCluster) -> Iterator[Runbook]:
    if shutil.which("pgbackrest") is None:
        pytest.skip("pgbackrest not installed: apt-get install pgbackrest")
    blocks = {b.language: b for b in runbook_blocks() if b.language != "sh"}
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-runbook-"))
    settings = dict(line.split(" = ", 1) for line in blocks["conf"].text.splitlines())
    cluster = LocalCluster(base / "primary", free_port(), settings=settings)
    cluster.init()
    conf = base / "pgbackrest.conf"
    conf.write_text(pgbackrest_conf(blocks["ini"], base, cluster))
    store = create_database(pg_cluster.dsn(), "store")
    store_dsn = pg_cluster.dsn(store)
    MigrationRunner(store_dsn, "monitoring").up()
    config = tomllib.loads(blocks["toml"].text)
    config["targets"][0]["dsn"] = cluster.dsn("kasho", MONITOR_ROLE)
    config["backups"]["drill_scratch_dir"] = str(base / "drills")
    config_path = base / "kasho-ops.toml"
    config_path.write_text(toml_text({"store": {"dsn": store_dsn}, **config}))
    env = {
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": "/tmp", "LANG": "C.UTF-8",
        "PGBACKREST_CONFIG": str(conf), "KASHO_OPS_CONFIG": str(config_path),
        "STANZA": "kasho", "PGBIN": str(cluster.bin), "PGDATA": str(cluster.data_dir),
        "PGLOG": str(cluster.base_dir / "restore.log"), "PGHOST": str(cluster.socket_dir),
        "PGPORT": str(cluster.port), "PGUSER": "postgres", "STORE_DSN": store_dsn,
        # Inside a directory of the postgres user, as /var/lib/postgresql/restore would be.
        "RESTORE_DIR": str(server_owned(base / "restores") / "restore"),
        "RESTORE_PORT": str(free_port()),
        "SLOT": "forgotten_standby",
    }
    # The server's archive_command finds pgBackRest's config through its environment.
    saved = os.environ.get("PGBACKREST_CONFIG")
    os.environ["PGBACKREST_CONFIG"] = str(conf)
    try:
        cluster.start()
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
            conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
            conn.execute("CREATE DATABASE kasho")
        with psycopg.connect(cluster.dsn("kasho"), autocommit=True) as conn:
            conn.execute(KASHO_DDL)
            conn.execute("CREATE EXTENSION pg_stat_statements")
        yield Runbook(cluster, env, store_dsn, config_path)
    finally:
        if saved is None:
            os.environ.pop("PGBACKREST_CONFIG", None)
        else:
            os.environ["PGBACKREST_CONFIG"] = saved
        cluster.destroy()
        drop_database(pg_cluster.dsn(), store)
        shutil.rmtree(base, ignore_errors=True)


def toml_text(document: dict[str, object]) -> str:
    lines: list[str] = []
    for section, body in document.items():
        tables = body if isinstance(body, list) else [body]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            for key, value in table.items():  # type: ignore[union-attr]
                lines.append(f"{key} = {value!r}".replace("'", '"'))
            lines.append("")
    return "\n".join(lines)


def test_the_runbook_runs_end_to_end(runbook: Runbook) -> None:
    assert load_config(runbook.config_path).target("kasho").pgbackrest is not None
    kasho = runbook.cluster.dsn("kasho")
    add_kasho_rows(kasho, 30, "before")
    at_target: dict[str, int] = {}
    blocks = runbook_blocks()
    for block in blocks:
        if block.language == "crontab":
            for line in block.text.splitlines():
                command = line.split(None, 5)[5].replace("--stanza=kasho", "--stanza=$STANZA")
                if not any(command in script for script in runbook.executed):
                    runbook.run("# as postgres", command)
            continue
        if block.language != "sh":
            continue
        if "$TARGET_TIME" in block.text and "TARGET_TIME" not in runbook.env:
            at_target = kasho_counts(kasho)
            with psycopg.connect(runbook.cluster.dsn()) as conn:
                moment: datetime = conn.execute("SELECT clock_timestamp()").fetchone()[0]
            runbook.env["TARGET_TIME"] = moment.isoformat(sep=" ")
            add_kasho_rows(kasho, 9, "after")
            switch_and_wait_archived(runbook.cluster)
        if "pg_drop_replication_slot" in block.text:
            with psycopg.connect(runbook.cluster.dsn(), autocommit=True) as conn:
                conn.execute("SELECT pg_create_physical_replication_slot(%s, true)",
                             [runbook.env["SLOT"]])
        if "--pg1-path" in block.text:
            server_owned(Path(runbook.env["RESTORE_DIR"]))
        output = runbook.run(block.runner, block.text)
        check_block(runbook, block, output, at_target)
    assert all(any(b.text == script for script in runbook.executed)
               for b in blocks if b.language == "sh")


def check_block(runbook: Runbook, block: Block, output: str,
                at_target: dict[str, int]) -> None:
    """What each kind of block must have done, beyond exiting 0."""
    if "info" in block.text and "--output=json" not in block.text and "backup" in block.text:
        assert "full backup:" in output and "status: ok" in output
    if "recovery_states_latest" in block.text:
        assert re.search(r"kasho\s+\|\s+pgbackrest\s+\|\s+ok", output), output
        assert re.search(r"kasho\s+\|\s+archiving\s+\|\s+ok", output), output
    if "restore-drill" in block.text:
        assert "PASSED" in output
        with psycopg.connect(runbook.store_dsn) as conn:
            row = conn.execute("SELECT outcome, row_counts FROM kasho_ops.restore_drills "
                               "ORDER BY id DESC LIMIT 1").fetchone()
        assert row is not None and row == ("passed", at_target)
    if "count(*), max(created_at) FROM transactions" in block.text:
        # Side by side and in place: the data is the data of the target time.
        found = re.search(r"^(\d+)\|(.+)$", output, re.MULTILINE)
        assert found, output
        count, newest = found.groups()
        assert int(count) == at_target["transactions"]
        assert datetime.fromisoformat(newest) <= datetime.fromisoformat(
            runbook.env["TARGET_TIME"])
    if "pg_drop_replication_slot" in block.text:
        assert runbook.env["SLOT"] in output  # listed before it was dropped
        with psycopg.connect(runbook.cluster.dsn()) as conn:
            assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone() == (0,)
