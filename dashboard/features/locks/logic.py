"""Locks page logic (pure): the headline tiles, per-database event totals, the stored lock
waits for people, and the frames the charts draw, with Kasho Ops' own waits and store
database left out unless shown."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard.core.figures import DeltaColor
from dashboard.core.timeseries import Collection, complete_wide
from dashboard.core.units import format_seconds

EVENT_COLUMNS = ["database", "deadlocks", "rollbacks", "temp files", "temp bytes",
                 "conflicts"]
WAIT_COLUMNS = ["time (UTC)", "pid", "database", "role", "application", "waits for",
                "blocked by", "root blocker", "depth", "wait (s)"]


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None = None
    delta_color: DeltaColor = "off"
    help: str | None = None


def tiles(history: pd.DataFrame, totals: pd.DataFrame, prepared: pd.DataFrame,
          range_phrase: str) -> list[Tile]:
    """Most sessions waiting and the longest wait in the range, deadlocks in the range, and
    prepared transactions at the latest sample."""
    waiting = history["blocked_sessions"].max() if not history.empty else None
    longest = history["longest_wait_seconds"].max() if not history.empty else None
    out = [
        Tile("Most sessions waiting", "—" if waiting is None or pd.isna(waiting)
             else f"{waiting:.0f}", range_phrase,
             help="The most sessions waiting for a lock at one sample in the range"),
        Tile("Longest lock wait", format_seconds(longest), range_phrase,
             help="The longest wait seen at a sample in the range"),
        Tile("Deadlocks", f"{totals['deadlocks'].sum():.0f}" if not totals.empty else "—",
             range_phrase, help="Deadlocks the server detected in the range, shown databases"),
    ]
    if prepared.empty:
        out.append(Tile("Prepared transactions, latest", "—"))
    else:
        latest = prepared.iloc[0]
        out.append(Tile(
            "Prepared transactions, latest", f"{latest['prepared']:.0f}",
            f"oldest {format_seconds(latest['oldest_seconds'])}" if latest["prepared"] else None,
            "orange" if latest["prepared"] else "off",
            "Two-phase transactions waiting for COMMIT/ROLLBACK PREPARED at the latest sample: "
            "they hold locks and the xmin horizon, and survive restarts "
            f"(max_prepared_transactions {latest['max_prepared_transactions']:.0f})"))
    return out


def visible_events(events: pd.DataFrame, own_databases: frozenset[str],
                   show_own: bool) -> tuple[pd.DataFrame, int]:
    """Per-database events without our store database unless shown; how many were hidden."""
    if events.empty or show_own:
        return events, 0
    own = events["datname"].isin(own_databases)
    return events[~own], int(events.loc[own, "datname"].nunique())


def database_event_totals(events: pd.DataFrame) -> pd.DataFrame:
    """Per database over the range: deadlocks, rollbacks, temp files and bytes, conflicts;
    the most deadlocks first."""
    if events.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    totals = events.groupby("datname", as_index=False)[
        ["deadlocks", "xact_rollback", "temp_files", "temp_bytes", "conflicts"]].sum()
    totals.columns = EVENT_COLUMNS
    return totals.sort_values(["deadlocks", "rollbacks", "database"],
                              ascending=[False, False, True]).reset_index(drop=True)


def events_on_grid(events: pd.DataFrame, collection: Collection) -> pd.DataFrame:
    """Deadlocks and conflicts per bucket over the shown databases, gaps NaN."""
    if events.empty:
        return complete_wide(pd.DataFrame(columns=["deadlocks", "conflicts"]), collection)
    per_time = events.groupby("collected_at")[["deadlocks", "conflicts"]].sum()
    return complete_wide(per_time, collection)


def history_on_grid(history: pd.DataFrame, collection: Collection) -> pd.DataFrame:
    """Sessions waiting and the longest wait per bucket (data.lock_history), gaps NaN."""
    columns = ["blocked_sessions", "longest_wait_seconds"]
    wide = (history.set_index("collected_at")[columns] if not history.empty
            else pd.DataFrame(columns=columns))
    return complete_wide(wide, collection)


def visible_waits(waits: pd.DataFrame, show_own: bool) -> tuple[pd.DataFrame, int]:
    if waits.empty or show_own:
        return waits, 0
    own = waits["own"].astype(bool)
    return waits[~own], int(own.sum())


def lock_waits_table(waits: pd.DataFrame) -> pd.DataFrame:
    """Stored lock waits for people: who waited for what, on whom, behind which root."""
    if waits.empty:
        return pd.DataFrame(columns=WAIT_COLUMNS)
    rows = []
    for w in waits.itertuples(index=False):
        wants = f"{w.mode} on {w.relation}" if w.relation else f"{w.mode} ({w.locktype})"
        rows.append([
            pd.Timestamp(w.collected_at).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"),
            w.pid, w.datname, w.usename, w.application_name, wants,
            ", ".join(str(p) for p in w.blocking_pids), root_blocker_label(w),
            None if pd.isna(w.chain_depth) else int(w.chain_depth), w.wait_seconds])
    return pd.DataFrame(rows, columns=WAIT_COLUMNS).astype({"depth": "Int64"})


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
