"""Activity page tables (pure): the session list, one session's details, headline counts and
the who-blocks-whom tree, from a live ActivitySnapshot. Kasho Ops' own sessions (the rule of
dashboard/core/own.py) are left out of the list unless shown, and counted."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from collectors.core.sqltext import statement_title
from collectors.live.activity import ActivitySnapshot, BlockingNode, Session
from dashboard.core.own import OwnActivity
from dashboard.core.units import format_seconds
from dashboard.core.utilization import Utilization

SESSION_COLUMNS = ["pid", "database", "role", "application", "client", "state", "wait",
                   "query age (s)", "xact age (s)", "state age (s)", "blocked by", "statement",
                   "query"]
STATEMENT_LABEL_CHARS = 40


def _wait_label(session: Session) -> str:
    if not session.wait_event_type:
        return ""
    return f"{session.wait_event_type}: {session.wait_event}"


def _application(session: Session) -> str:
    if session.backend_type != "client backend":
        return f"({session.backend_type})" + (f" {session.application_name}"
                                             if session.application_name else "")
    return session.application_name


def statement_label(query: str) -> str:
    """The session's statement as every page names it: its sqlc name, else its first words."""
    return statement_title(query).short(STATEMENT_LABEL_CHARS) if query else ""


def is_own(session: Session, own: OwnActivity) -> bool:
    return own.is_own_session(session.application_name, session.usename, session.datname)


def sessions_table(snapshot: ActivitySnapshot, show_idle: bool = False,
                   own: OwnActivity | None = None,
                   show_own: bool = True) -> tuple[pd.DataFrame, int]:
    """One row per session, like pg_activity: the oldest transactions first; idle sessions
    only when asked for; Kasho Ops' own only when shown (and how many were left out). Ages
    are numbers (None where there is none: no query running, no transaction open), so the
    table sorts them right."""
    listed = [s for s in snapshot.sessions if show_idle or s.state != "idle"]
    hidden = 0
    if own is not None and not show_own:
        mine = [s for s in listed if is_own(s, own)]
        hidden = len(mine)
        listed = [s for s in listed if not is_own(s, own)]
    rows = [[s.pid, s.datname, s.usename, _application(s), s.client_addr, s.state,
             _wait_label(s), s.query_seconds, s.transaction_seconds, s.state_seconds,
             ", ".join(map(str, s.blocking_pids)), statement_label(s.query), s.query]
            for s in listed]
    table = pd.DataFrame(rows, columns=SESSION_COLUMNS)
    return (table.sort_values(["xact age (s)", "pid"], ascending=[False, True],
                              na_position="last").reset_index(drop=True), hidden)


def session_details(session: Session) -> pd.DataFrame:
    """One session as field/value rows, for the confirmation step."""
    rows = [("database", session.datname), ("role", session.usename),
            ("application", _application(session)), ("client", session.client_addr),
            ("state", session.state), ("wait", _wait_label(session) or "—"),
            ("query age", format_seconds(session.query_seconds)),
            ("transaction age", format_seconds(session.transaction_seconds)),
            ("started", f"{session.backend_start:%Y-%m-%d %H:%M:%S %Z}"
             if session.backend_start else "—"),
            ("query", session.query or "—")]
    return pd.DataFrame(rows, columns=["field", "value"])


def selection_key(table: pd.DataFrame, prefix: str = "activity_sessions") -> str:
    """A widget key naming exactly the rows shown, in order: a selection made on one list of
    sessions never carries over to another (a row number would then mean another pid)."""
    digest = hashlib.sha256(",".join(map(str, table["pid"].tolist())).encode()).hexdigest()
    return f"{prefix}_{digest[:16]}"


def selected_session(snapshot: ActivitySnapshot, table: pd.DataFrame,
                     rows: Sequence[int]) -> Session | None:
    """The session of the selected table row (tables from `sessions_table` of `snapshot`)."""
    if not rows or not 0 <= rows[0] < len(table):
        return None
    pid = int(table["pid"].iloc[rows[0]])
    return next((s for s in snapshot.sessions if s.pid == pid), None)


def action_block_reason(session: Session, own_pids: frozenset[int]) -> str | None:
    """Why the page offers no cancel/terminate for `session` (the action would refuse it
    too), or None."""
    if session.pid in own_pids:
        return f"pid {session.pid} is one of this dashboard's own sessions"
    if session.backend_type != "client backend":
        return (f"pid {session.pid} is a {session.backend_type}: only client sessions can be "
                "cancelled or terminated")
    return None


@dataclass(frozen=True)
class ActivityCounts:
    utilization: Utilization  # every client backend, ours included, against usable slots
    active: int
    idle_in_transaction: int
    waiting_on_lock: int
    kasho_ops: int  # our client backends, including the one that read this


def activity_counts(snapshot: ActivitySnapshot, own: OwnActivity | None = None,
                    show_own: bool = True) -> ActivityCounts:
    """The tiles' counts: connection use counts every client backend (they all take slots);
    active, idle in transaction and waiting count the application's sessions unless ours
    are shown."""
    sessions = snapshot.sessions
    clients = [s for s in sessions if s.backend_type == "client backend"]
    mine = ([s for s in clients if is_own(s, own)] if own is not None
            else [s for s in clients if s.is_kasho_ops])
    counted = sessions if show_own or own is None else [
        s for s in sessions if not is_own(s, own)]
    return ActivityCounts(
        utilization=Utilization(snapshot.taken_at, len(clients) + 1,  # + the reader
                                snapshot.max_connections, snapshot.reserved_connections),
        active=sum(s.state == "active" for s in counted),
        idle_in_transaction=sum(s.state.startswith("idle in transaction") for s in counted),
        waiting_on_lock=sum(s.waiting_for_lock for s in counted),
        kasho_ops=len(mine) + 1)


TREE_COLUMNS = ["session", "state", "waiting for", "for (s)", "blocks", "role",
                "application", "query"]


def blocking_tree_table(forest: Sequence[BlockingNode]) -> pd.DataFrame:
    """The forest as indented rows, roots first: how many sessions each blocks directly,
    and for a waiter how long it has waited (its state age)."""
    rows = []
    for root in forest:
        for node in root.walk():
            prefix = INDENT * max(node.depth - 1, 0) + ("└─ " if node.depth else "")
            label = f"{prefix}{node.pid}"
            if node.pid == 0 and node.session is None:
                label += " prepared transaction"
            elif node.session is None:
                label += " (not visible)"
            if node.repeated:
                label += " (shown above)"
            if node.in_cycle:
                label += " ⟲ wait cycle"
            s = node.session
            rows.append([label, s.state if s else "", _wait_label(s) if s else "",
                         s.state_seconds if s else None,
                         str(node.blocks) if node.blocks else "",
                         s.usename if s else "", _application(s) if s else "",
                         s.query if s and not node.repeated else ""])
    return pd.DataFrame(rows, columns=TREE_COLUMNS)


INDENT = "\u00a0\u00a0\u00a0"  # non-breaking: the grid keeps it
