"""The live "now" view of a monitored server: its current sessions, and who blocks whom.

This is the one scheduled-free read of a monitored server the dashboard makes (the
architecture allows live reads only for an explicit "now" view or a DBA action). It goes
through a pool of at most one monitoring session per target: read-only, statement_timeout,
application_name kasho-ops. Query text is shown with its literals masked (`masked_query`),
since pg_stat_activity.query holds the raw statement. `blocking_forest` is pure: it turns
the sessions' blocking pids into trees rooted at blockers that are not blocked themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row

from collectors.core.config import CollectorSettings, Target
from collectors.core.connections import APPLICATION_NAME, TargetConnections
from collectors.core.query_marker import marked
from collectors.core.sqltext import mask_literals, one_line

QUERY_DISPLAY_CHARS = 1000
# Limits of the live read: its round trips answer within 2 s + 1 s grace, its connect in 3 s.
LIVE_STATEMENT_TIMEOUT_MS = 2000
LIVE_CONNECT_TIMEOUT_SECONDS = 3

# pg_stat_activity, PostgreSQL 13+: sessions that run queries or hold locks (client
# backends and workers), not the auxiliary processes; pg_blocking_pids only for sessions
# waiting on a lock; our own reading session left out.
ACTIVITY_SQL = """
SELECT pid,
       coalesce(datname, '')                     AS datname,
       coalesce(usename, '')                     AS usename,
       coalesce(application_name, '')            AS application_name,
       coalesce(host(client_addr), 'local')      AS client_addr,
       backend_type,
       coalesce(state, '')                       AS state,
       coalesce(wait_event_type, '')             AS wait_event_type,
       coalesce(wait_event, '')                  AS wait_event,
       backend_start,
       CASE WHEN state IN ('active', 'fastpath function call')
            THEN greatest(extract(epoch FROM now() - query_start), 0)::float8 END
                                                 AS query_seconds,
       CASE WHEN xact_start IS NOT NULL
            THEN greatest(extract(epoch FROM now() - xact_start), 0)::float8 END
                                                 AS transaction_seconds,
       greatest(extract(epoch FROM now() - state_change), 0)::float8 AS state_seconds,
       CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid)
            ELSE '{}'::integer[] END            AS blocking_pids,
       left(query, 4000)                         AS query
FROM pg_stat_activity
WHERE pid <> pg_backend_pid()
  AND backend_type IN ('client backend', 'autovacuum worker', 'parallel worker',
                       'background worker')
ORDER BY pid
"""
# Reserved slots: superuser_reserved_connections, plus reserved_connections on 16+ (NULL,
# so 0, before).
SERVER_SQL = """
SELECT now() AS taken_at, pg_backend_pid() AS reader_pid,
       current_setting('max_connections')::integer AS max_connections,
       current_setting('superuser_reserved_connections')::integer
       + coalesce(current_setting('reserved_connections', true)::integer, 0)
                                                 AS reserved_connections
"""


@dataclass(frozen=True)
class Session:
    """One backend as the live view shows it; `query` has its literals masked."""

    pid: int
    datname: str
    usename: str
    application_name: str
    client_addr: str
    backend_type: str
    state: str
    wait_event_type: str
    wait_event: str
    backend_start: datetime | None
    query_seconds: float | None
    transaction_seconds: float | None
    state_seconds: float | None
    blocking_pids: tuple[int, ...]
    query: str

    @property
    def is_kasho_ops(self) -> bool:
        """One of our own sessions (collector, dashboard, actions): never a target."""
        return self.application_name.startswith(APPLICATION_NAME)

    @property
    def waiting_for_lock(self) -> bool:
        return self.wait_event_type == "Lock"


@dataclass(frozen=True)
class ActivitySnapshot:
    taken_at: datetime
    reader_pid: int  # the session that read this (left out of `sessions`)
    max_connections: int
    sessions: tuple[Session, ...]
    reserved_connections: int = 0


# -- masking ------------------------------------------------------------------------------

def masked_query(query: str, limit: int = QUERY_DISPLAY_CHARS) -> str:
    """The statement as the live view shows it: every string and numeric literal masked by
    the one SQL lexer (collectors/core/sqltext.py; an unterminated one, where the server cut
    the text, to the end), on one line, cut to `limit` characters. Parameters ($1),
    identifiers and keywords stay; comments keep their words, not their values."""
    masked = one_line(mask_literals(query, numbers=True))
    return masked if len(masked) <= limit else masked[:limit - 1] + "…"


# -- reading ------------------------------------------------------------------------------

def session_from_row(row: dict[str, Any]) -> Session:
    return Session(
        pid=row["pid"], datname=row["datname"], usename=row["usename"],
        application_name=row["application_name"], client_addr=row["client_addr"],
        backend_type=row["backend_type"], state=row["state"],
        wait_event_type=row["wait_event_type"], wait_event=row["wait_event"],
        backend_start=row["backend_start"], query_seconds=row["query_seconds"],
        transaction_seconds=row["transaction_seconds"], state_seconds=row["state_seconds"],
        blocking_pids=tuple(row["blocking_pids"] or ()),
        query=masked_query(row["query"] or ""))


class LiveActivity:
    """Reads snapshots of targets' sessions through one pooled monitoring session each."""

    def __init__(self, settings: CollectorSettings) -> None:
        # One session per target is plenty for an on-demand view, and keeps the dashboard
        # well inside the monitoring role's CONNECTION LIMIT next to the collector. A page
        # must answer in seconds: a server that is frozen or unreachable shows "no answer
        # from the server in 3 s" rather than a spinner.
        self._settings = replace(
            settings, max_connections_per_target=1,
            statement_timeout_ms=min(settings.statement_timeout_ms, LIVE_STATEMENT_TIMEOUT_MS),
            connect_timeout_seconds=min(settings.connect_timeout_seconds,
                                        LIVE_CONNECT_TIMEOUT_SECONDS))
        self._connections: dict[str, TargetConnections] = {}
        self._lock = threading.Lock()

    def _connections_for(self, target: Target) -> TargetConnections:
        with self._lock:
            known = self._connections.get(target.name)
            if known is None or known.target != target:
                if known is not None:
                    known.close()
                known = self._connections[target.name] = TargetConnections(target,
                                                                           self._settings)
            return known

    def snapshot(self, target: Target) -> ActivitySnapshot:
        """The target's sessions now; raises TargetUnavailable with the reason if down or
        not answering, TargetBusy if another page holds the one session for too long."""
        with self._connections_for(target).connection() as conn:
            conn.row_factory = dict_row
            with conn.transaction():  # one pg_stat_activity snapshot for both reads
                server = conn.execute(marked(SERVER_SQL)).fetchone()
                rows = conn.execute(marked(ACTIVITY_SQL)).fetchall()
        assert server is not None
        return ActivitySnapshot(taken_at=server["taken_at"], reader_pid=server["reader_pid"],
                                max_connections=server["max_connections"],
                                sessions=tuple(session_from_row(r) for r in rows),
                                reserved_connections=server["reserved_connections"])

    def close(self) -> None:
        with self._lock:
            for connections in self._connections.values():
                connections.close()
            self._connections.clear()


# -- who blocks whom ----------------------------------------------------------------------

@dataclass(frozen=True)
class BlockingNode:
    """A session in a blocking tree; `blocked` are the sessions whose next hop it is.

    `session` is None for a blocker the view cannot see (pid 0: a prepared transaction).
    `blocks` counts every session it blocks directly, including waiters shown under
    another of their blockers. `in_cycle` marks a root chosen inside a wait cycle (a
    deadlock the server has not broken yet), and `repeated` the cycle member that closes it.
    """

    pid: int
    session: Session | None
    depth: int
    blocks: int = 0
    blocked: tuple[BlockingNode, ...] = ()
    repeated: bool = False
    in_cycle: bool = False

    def walk(self) -> Iterable[BlockingNode]:
        yield self
        for child in self.blocked:
            yield from child.walk()


def next_hop(session: Session, waiting: set[int]) -> int | None:
    """The blocker a waiter is shown under, and the path its chain depth follows (the same
    rule as the lock_waits definition): the lowest blocker that is not waiting itself, else
    the lowest waiting one. One parent per waiter keeps a queue of n sessions behind one
    lock a flat list of n, not n levels deep."""
    blockers = [b for b in session.blocking_pids if b != session.pid]
    if not blockers:
        return None
    roots = [b for b in blockers if b not in waiting]
    return min(roots) if roots else min(blockers)


def blocking_forest(sessions: Sequence[Session]) -> list[BlockingNode]:
    """Trees of who blocks whom, rooted at blockers that are not waiting themselves, the
    root with the most sessions behind it first. Cycles are safe: every pid is expanded
    once. Sessions that neither block nor wait are not in the forest."""
    by_pid = {s.pid: s for s in sessions}
    waiting = {s.pid for s in sessions if s.blocking_pids}
    children: dict[int, list[int]] = {}
    blocks: dict[int, int] = {}
    for session in sessions:
        for blocker in set(session.blocking_pids) - {session.pid}:
            blocks[blocker] = blocks.get(blocker, 0) + 1
        hop = next_hop(session, waiting)
        if hop is not None:
            children.setdefault(hop, []).append(session.pid)
    expanded: set[int] = set()

    def build(pid: int, depth: int, in_cycle: bool = False) -> BlockingNode:
        if pid in expanded:
            return BlockingNode(pid, by_pid.get(pid), depth, blocks.get(pid, 0), repeated=True)
        expanded.add(pid)
        return BlockingNode(pid, by_pid.get(pid), depth, blocks.get(pid, 0),
                            tuple(build(w, depth + 1) for w in sorted(children.get(pid, ()))),
                            in_cycle=in_cycle)

    roots = [build(pid, 0) for pid in sorted(b for b in blocks if b not in waiting)]
    forest = sorted(roots, key=lambda n: (-sum(1 for _ in n.walk()), n.pid))
    parent = {s.pid: next_hop(s, waiting) for s in sessions if s.pid in waiting}
    while remaining := sorted(p for p in waiting if p not in expanded):
        # Only cycles are left: walk up from any waiter until a pid repeats; that pid is
        # on the cycle, and the cycle's lowest pid becomes its root.
        seen: list[int] = []
        pid: int | None = remaining[0]
        while pid is not None and pid not in seen:
            seen.append(pid)
            pid = parent.get(pid)
        cycle = seen[seen.index(pid):] if pid is not None else seen
        forest.append(build(min(cycle), 0, in_cycle=True))
    return forest
