"""Pure transforms of the Connections, Activity and Locks pages: headline numbers (connection
use against the limit) and the tables people read, from store DataFrames or a live
ActivitySnapshot. The charts are in activity_charts.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from collectors.activity import ActivitySnapshot, BlockingNode, Session
from dashboard.units import format_seconds

# Share of the connections ordinary roles may use (max_connections minus the reserved
# slots) at which the pages warn, and at which they call the pool nearly exhausted.
WARN_PERCENT = 75.0
CRITICAL_PERCENT = 90.0
INDENT = "\u00a0\u00a0\u00a0"  # non-breaking: the grid keeps it


# -- connections ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Utilization:
    """Connection use at one sample, against the slots ordinary roles may take."""

    collected_at: datetime
    client_connections: int
    max_connections: int
    reserved_connections: int

    @property
    def usable(self) -> int:
        return max(self.max_connections - self.reserved_connections, 1)

    @property
    def percent(self) -> float:
        return 100.0 * self.client_connections / self.usable

    @property
    def level(self) -> str:
        if self.percent >= CRITICAL_PERCENT:
            return "critical"
        return "warning" if self.percent >= WARN_PERCENT else "ok"

    def message(self) -> str:
        free = self.usable - self.client_connections
        text = (f"{self.client_connections} of {self.usable} connections in use "
                f"({self.percent:.0f} %); {max(free, 0)} left before new sessions are "
                f"refused (max_connections {self.max_connections} minus "
                f"{self.reserved_connections} reserved)")
        if self.level == "critical":
            return ("Connection pool nearly exhausted: " + text + ". Look for idle-in-"
                    "transaction sessions and the application holding the most connections.")
        if self.level == "warning":
            return "Connections running high: " + text + "."
        return text + "."


def latest_utilization(limits: pd.DataFrame) -> Utilization | None:
    """From connection_limits rows (collected_at, max_connections, reserved_connections,
    client_connections): the latest sample."""
    if limits.empty:
        return None
    row = limits.sort_values("collected_at").iloc[-1]
    return Utilization(pd.Timestamp(row["collected_at"]).to_pydatetime(),
                       round(float(row["client_connections"])),
                       round(float(row["max_connections"])),
                       round(float(row["reserved_connections"])))


def breakdown_table(latest: pd.DataFrame, column: str) -> pd.DataFrame:
    """The latest sample's connections per value of `column`, largest first, with shares."""
    if latest.empty:
        return pd.DataFrame(columns=[column, "connections", "share %", "waiting on lock"])
    table = latest.groupby(column, as_index=False).agg(
        connections=("connections", "sum"), waiting=("waiting_on_lock", "sum"))
    table["share %"] = 100.0 * table["connections"] / table["connections"].sum()
    table = table.rename(columns={"waiting": "waiting on lock"})
    return table.sort_values(["connections", column], ascending=[False, True]).reset_index(
        drop=True)[[column, "connections", "share %", "waiting on lock"]]


def idle_in_transaction_table(latest: pd.DataFrame) -> pd.DataFrame:
    """Sessions idle in a transaction at the latest sample, by who holds them, the
    longest-held first."""
    columns = ["database", "role", "application", "client", "aborted", "sessions",
               "longest idle (s)"]
    if latest.empty:
        return pd.DataFrame(columns=columns)
    idle = latest[latest["state"].str.startswith("idle in transaction")]
    table = pd.DataFrame({
        "database": idle["datname"], "role": idle["usename"],
        "application": idle["application_name"], "client": idle["client_addr"],
        "aborted": idle["state"].str.contains("aborted"), "sessions": idle["connections"],
        "longest idle (s)": idle["longest_in_state_seconds"]})
    return table.sort_values("longest idle (s)", ascending=False).reset_index(drop=True)


# -- locks history --------------------------------------------------------------------------

def database_event_totals(events: pd.DataFrame) -> pd.DataFrame:
    """Per database over the range: deadlocks, rollbacks, temp files and bytes, conflicts;
    the most deadlocks first."""
    columns = ["database", "deadlocks", "rollbacks", "temp files", "temp bytes", "conflicts"]
    if events.empty:
        return pd.DataFrame(columns=columns)
    totals = events.groupby("datname", as_index=False)[
        ["deadlocks", "xact_rollback", "temp_files", "temp_bytes", "conflicts"]].sum()
    totals.columns = columns
    return totals.sort_values(["deadlocks", "rollbacks", "database"],
                              ascending=[False, False, True]).reset_index(drop=True)


def lock_waits_table(waits: pd.DataFrame) -> pd.DataFrame:
    """Stored lock waits for people: who waited for what, on whom, behind which root."""
    columns = ["time (UTC)", "pid", "database", "role", "application", "waits for",
               "blocked by", "root blocker", "depth", "wait (s)"]
    if waits.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for w in waits.itertuples(index=False):
        wants = f"{w.mode} on {w.relation}" if w.relation else f"{w.mode} ({w.locktype})"
        rows.append([
            pd.Timestamp(w.collected_at).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"),
            w.pid, w.datname, w.usename, w.application_name, wants,
            ", ".join(str(p) for p in w.blocking_pids), root_blocker_label(w),
            None if pd.isna(w.chain_depth) else int(w.chain_depth), w.wait_seconds])
    return pd.DataFrame(rows, columns=columns).astype({"depth": "Int64"})


def root_blocker_label(wait: object) -> str:
    pid = getattr(wait, "root_blocker_pid", None)
    if pid is None or pd.isna(pid):
        return "none (wait cycle)"
    if int(pid) == 0:
        return "a prepared transaction"
    parts = [getattr(wait, "root_blocker_state", "") or "gone",
             getattr(wait, "root_blocker_application_name", "")]
    xact = getattr(wait, "root_blocker_transaction_seconds", None)
    if xact is not None and not pd.isna(xact):
        parts.append(f"xact {format_seconds(xact)}")
    return f"{int(pid)}: " + " · ".join(p for p in parts if p)


# -- activity now ---------------------------------------------------------------------------

SESSION_COLUMNS = ["pid", "database", "role", "application", "client", "state", "wait",
                   "query age (s)", "xact age (s)", "state age (s)", "blocked by", "query"]


def _wait_label(session: Session) -> str:
    if not session.wait_event_type:
        return ""
    return f"{session.wait_event_type}: {session.wait_event}"


def _application(session: Session) -> str:
    if session.backend_type != "client backend":
        return f"({session.backend_type})" + (f" {session.application_name}"
                                             if session.application_name else "")
    return session.application_name


def sessions_table(snapshot: ActivitySnapshot, show_idle: bool = False) -> pd.DataFrame:
    """One row per session, like pg_activity: the oldest transactions first; idle sessions
    only when asked for. Ages are numbers so the table sorts them right."""
    rows = [[s.pid, s.datname, s.usename, _application(s), s.client_addr, s.state,
             _wait_label(s), s.query_seconds, s.transaction_seconds, s.state_seconds,
             ", ".join(map(str, s.blocking_pids)), s.query]
            for s in snapshot.sessions if show_idle or s.state != "idle"]
    table = pd.DataFrame(rows, columns=SESSION_COLUMNS)
    return table.sort_values(["xact age (s)", "pid"], ascending=[False, True],
                             na_position="last").reset_index(drop=True)


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


@dataclass(frozen=True)
class ActivityCounts:
    sessions: int
    active: int
    idle_in_transaction: int
    waiting_on_lock: int
    kasho_ops: int
    max_connections: int


def activity_counts(snapshot: ActivitySnapshot) -> ActivityCounts:
    sessions = snapshot.sessions
    clients = [s for s in sessions if s.backend_type == "client backend"]
    return ActivityCounts(
        sessions=len(clients) + 1,  # + the session that read this
        active=sum(s.state == "active" for s in sessions),
        idle_in_transaction=sum(s.state.startswith("idle in transaction") for s in sessions),
        waiting_on_lock=sum(s.waiting_for_lock for s in sessions),
        kasho_ops=sum(s.is_kasho_ops for s in clients) + 1,  # + the session that read this
        max_connections=snapshot.max_connections)


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
