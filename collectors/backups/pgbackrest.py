"""Run pgBackRest's own command line, read-only: `info`, `help expire` and `repo-ls`.

The command comes from the target's `pgbackrest_command` (plain `pgbackrest`, or a prefix
such as `ssh backup-host pgbackrest` that reaches the repository host); nothing is installed
on the database server. Arguments are passed as a list, never through a shell. When Kasho
Ops runs as root, pgBackRest runs as the `postgres` OS user, as the server does, so its
lock and log files keep the owner the server's archive_command expects.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from contextlib import suppress

from collectors.core.errors import KashoOpsError
from collectors.core.redact import redact

SERVER_OS_USER = "postgres"
INFO_TIMEOUT_SECONDS = 60.0


class PgBackRestError(KashoOpsError):
    """pgBackRest could not be run or answered with an error; the message says which."""


def as_server_user(argv: Sequence[str]) -> list[str]:
    """`argv` run as the postgres OS user when we are root (PostgreSQL and pgBackRest refuse
    or misbehave as root); unchanged otherwise."""
    if os.geteuid() == 0:
        return ["runuser", "-u", SERVER_OS_USER, "--", *argv]
    return list(argv)


def run_pgbackrest(command: Sequence[str], args: Sequence[str],
                   timeout_seconds: float = INFO_TIMEOUT_SECONDS) -> str:
    """Standard output of `command args…`; PgBackRestError with one line otherwise.

    The command runs in a process group of its own, killed whole on timeout or interrupt:
    runuser and ssh would otherwise leave pgBackRest running behind them."""
    argv = as_server_user([*command, *args])
    shown = " ".join([*command, *args])
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, cwd="/", start_new_session=True)
    except FileNotFoundError:
        raise PgBackRestError(f"`{command[0]}` not found: install pgBackRest (apt-get install "
                              "pgbackrest) or set pgbackrest_command") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise PgBackRestError(f"`{shown}` did not finish within {timeout_seconds:.0f} s"
                              ) from None
    except BaseException:
        _kill_group(process)
        raise
    if process.returncode != 0:
        raise PgBackRestError(f"`{shown}` failed (exit {process.returncode}): "
                              f"{last_line(stderr or stdout)}")
    return stdout


def _kill_group(process: subprocess.Popen[str]) -> None:
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


def last_line(text: str) -> str:
    """What a tool's output says went wrong, on one redacted line: pgBackRest's WARN and
    ERROR lines (each with its HINT), else the last line (ssh and the shell put their reason
    there)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no output"
    said = [line + (f" ({lines[i + 1]})" if i + 1 < len(lines)
                    and lines[i + 1].startswith("HINT:") else "")
            for i, line in enumerate(lines) if line.startswith(("ERROR:", "WARN:"))]
    return redact("; ".join(said[:2]) if said else lines[-1])


def info_args(stanza: str) -> list[str]:
    return [f"--stanza={stanza}", "--output=json", "info"]


def retention_args(stanza: str) -> list[str]:
    return [f"--stanza={stanza}", "help", "expire"]


def wal_listing_args(stanza: str, archive_id: str) -> list[str]:
    return [f"--stanza={stanza}", "--output=json", "--recurse", "repo-ls",
            f"archive/{stanza}/{archive_id}"]
