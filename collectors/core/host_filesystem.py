"""Free space of a database server's filesystem, read by a collector on the same host.

No SQL function tells a pg_monitor role how full the disk is. When a target says the
collector runs on its host (`host_filesystem = true`), the engine fills a group's
`filesystem_*` columns with statvfs() of the path the server reported (its data directory);
otherwise they stay NULL and `filesystem_note` says why.
"""

from __future__ import annotations

import os
from typing import Any

TOTAL = "filesystem_total_bytes"
FREE = "filesystem_free_bytes"
NOTE = "filesystem_note"
OFF_NOTE = "not measured: host_filesystem is off for this target"


def measure(path: str) -> tuple[int | None, int | None, str | None]:
    """(total bytes, bytes free for unprivileged users, None) or (None, None, why not)."""
    if not path or not os.path.isabs(path):
        return None, None, f"not measured: the server reported no absolute path ({path!r})"
    try:
        stats = os.statvfs(path)
    except OSError as exc:
        return None, None, (f"not measured: {path} is not reachable on the collector's host "
                            f"({exc.strerror}); is the collector on the database host?")
    return stats.f_blocks * stats.f_frsize, stats.f_bavail * stats.f_frsize, None


def add_filesystem_usage(rows: list[dict[str, Any]], path_column: str,
                         enabled: bool) -> list[dict[str, Any]]:
    """Rows with TOTAL, FREE and NOTE filled from statvfs of each row's `path_column`."""
    out = []
    for row in rows:
        if enabled:
            total, free, note = measure(str(row.get(path_column) or ""))
        else:
            total, free, note = None, None, OFF_NOTE
        out.append({**row, TOTAL: total, FREE: free, NOTE: note})
    return out
