"""Locks page tables (pure): per-database event totals and the stored lock waits."""

from __future__ import annotations

import pandas as pd

from dashboard.core.units import format_seconds


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
