"""Run pgBackRest's own command line, read-only: `info`, `help expire` and `repo-ls`.

The command comes from the target's `pgbackrest_command` (plain `pgbackrest`, or a prefix
such as `ssh backup-host pgbackrest` that reaches the repository host); nothing is installed
on the database server. Arguments are passed as a list, never through a shell. When Kasho
Ops runs as root, pgBackRest runs as the `postgres` OS user, as the server does, so its
lock and log files keep the owner the server's archive_command expects.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

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
    """Standard output of `command args…`; PgBackRestError with one line otherwise."""
    argv = as_server_user([*command, *args])
    shown = " ".join([*command, *args])
    try:
        result = subprocess.run(argv, capture_output=True, text=True, cwd="/",
                                timeout=timeout_seconds, check=False)
    except FileNotFoundError:
        raise PgBackRestError(f"`{command[0]}` not found: install pgBackRest (apt-get install "
                              "pgbackrest) or set pgbackrest_command") from None
    except subprocess.TimeoutExpired:
        raise PgBackRestError(f"`{shown}` did not finish within {timeout_seconds:.0f} s"
                              ) from None
    if result.returncode != 0:
        raise PgBackRestError(f"`{shown}` failed (exit {result.returncode}): "
                              f"{last_line(result.stderr or result.stdout)}")
    return result.stdout


def last_line(text: str) -> str:
    """The last non-empty line of a tool's output, redacted: where pgBackRest and ssh put
    the reason."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return redact(lines[-1]) if lines else "no output"


def info_args(stanza: str) -> list[str]:
    return [f"--stanza={stanza}", "--output=json", "info"]


def retention_args(stanza: str) -> list[str]:
    return [f"--stanza={stanza}", "help", "expire"]


def wal_listing_args(stanza: str, archive_id: str) -> list[str]:
    return [f"--stanza={stanza}", "--output=json", "--recurse", "repo-ls",
            f"archive/{stanza}/{archive_id}"]
