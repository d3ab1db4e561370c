"""The recovery states the collector stored (kasho_ops.recovery_states_latest), as the
Backups and Replication pages show them: problems first, one plain-text line each.

`latest_states` and `latest_recovery` read (cached); `problems`, `states_table` and
`standby_notice` are pure; `render` places the states.
Messages hold names from the monitored server (slot names, WAL file names): they reach
st.error/st.warning only through `plain.md`, and dataframes as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import streamlit as st

from collectors.core.config import Target
from collectors.core.redact import Secret
from dashboard.core.plain import md
from dashboard.core.store import cached_read, latest_rows, read_frame
from dashboard.core.tables import dataframe

SEVERITY_ORDER = {"critical": 0, "warning": 1, "unknown": 2, "ok": 3}
STATE_LABELS: dict[str, str] = {
    "archiving": "WAL archiving",
    "archive_backlog": "Archive backlog",
    "pgbackrest": "pgBackRest",
    "full_backup_age": "Last full backup",
    "backup_age": "Last backup",
    "backup_errors": "Backup checksum errors",
    "wal_gap": "Archived WAL gaps",
    "pitr_window": "PITR window",
    "slot_retention": "Slot WAL retention",
    "replication_lag_bytes": "Replication lag (bytes)",
    "replication_lag_seconds": "Replication lag (time)",
    "restore_drill": "Restore drill",
}
BACKUP_STATES = ("archiving", "archive_backlog", "pgbackrest", "full_backup_age", "backup_age",
                 "backup_errors", "wal_gap", "pitr_window", "restore_drill")
REPLICATION_STATES = ("slot_retention", "replication_lag_bytes", "replication_lag_seconds")


@cached_read
def latest_states(dsn: Secret, target: str) -> pd.DataFrame:
    """collected_at, state, severity, value, threshold, message: the latest of each state."""
    return read_frame(dsn, """
        SELECT collected_at, state, severity, value, threshold, message
        FROM kasho_ops.recovery_states_latest WHERE target = %(target)s""", {"target": target})


def latest_recovery(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest recovery_status sample at or before `end`: is the target a standby?"""
    return latest_rows(dsn, "recovery_status", target, end)


def standby_notice(recovery: pd.DataFrame) -> str | None:
    """'This target is a standby …' (plain text, with the upstream's host and slot: show it
    through `md`) when the latest sample says it is in recovery."""
    if recovery.empty or not bool(recovery["in_recovery"].iloc[0]):
        return None
    row = recovery.iloc[0]
    host = row.get("upstream_host")
    if host is None or pd.isna(host):
        upstream = "no WAL receiver is connected (it may restore from the archive)"
    else:
        port = row.get("upstream_port")
        slot = row.get("upstream_slot")
        upstream = (f"it streams from {host}:{'' if pd.isna(port) else int(port)}"
                    + ("" if slot is None or pd.isna(slot) else f" through slot {slot}")
                    + f" (receiver {row.get('receiver_status') or 'unknown'})")
    return f"This target is a standby (in recovery): {upstream}."


def stop_unless_server(target: Target) -> None:
    """A PgBouncer target has no backups or replication: say where they are, and stop."""
    if target.kind == "postgres":
        return
    st.info(f"{md(target.name)} is a PgBouncer: backups and replication belong to the "
            f"PostgreSQL server it fronts ({md(target.fronts or 'see its fronts key')}); "
            "choose that target in the sidebar.", icon=":material/info:")
    st.stop()


def problems(states: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The warning and critical states among `names`, critical first."""
    if states.empty:
        return states
    chosen = states[states["state"].isin(names)
                    & states["severity"].isin(["warning", "critical"])]
    return chosen.assign(order=chosen["severity"].map(SEVERITY_ORDER)).sort_values(
        ["order", "state"]).drop(columns="order")


def states_table(states: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Every state among `names` for people, in the order given."""
    columns = ["check", "state", "why", "evaluated (UTC)"]
    if states.empty:
        return pd.DataFrame(columns=columns)
    by_name = {row.state: row for row in states.itertuples(index=False)}
    rows = [[STATE_LABELS.get(name, name), by_name[name].severity, by_name[name].message,
             pd.Timestamp(by_name[name].collected_at).tz_convert("UTC").strftime(
                 "%Y-%m-%d %H:%M:%S")]
            for name in names if name in by_name]
    return pd.DataFrame(rows, columns=columns)


def render(states: pd.DataFrame, names: Sequence[str], all_ok_text: str) -> None:
    """One plain line per problem (critical red, warning amber), or one green line; the full
    table of checks in an expander."""
    found = problems(states, names)
    if states.empty or not states["state"].isin(names).any():
        st.info("No recovery states evaluated yet for this target (the collector computes "
                "them every minute).", icon=":material/hourglass_empty:")
        return
    for row in found.itertuples(index=False):
        label = STATE_LABELS.get(str(row.state), str(row.state))
        if row.severity == "critical":
            st.error(f"{md(label)}: {md(row.message)}", icon=":material/crisis_alert:")
        else:
            st.warning(f"{md(label)}: {md(row.message)}", icon=":material/warning:")
    if found.empty:
        st.success(md(all_ok_text), icon=":material/check_circle:")
    with st.expander("All checks, as the collector last evaluated them"):
        dataframe(states_table(states, names), hide_index=True, width="stretch")
