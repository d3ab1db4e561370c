"""Replication page tables (pure): standbys and slots at the latest sample, for people."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard.core.units import format_bytes, format_seconds


def _bytes(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else format_bytes(float(value))


def _seconds(value: Any) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):.2f} s" if float(value) < 10 else format_seconds(float(value))


def standbys_table(standbys: pd.DataFrame) -> pd.DataFrame:
    """Each standby: who, state, sync, how far behind in bytes and time, its slot."""
    columns = ["standby", "client", "state", "sync", "sent lag", "write lag", "flush lag",
               "replay lag", "replay lag (time)", "slot", "last reply (UTC)"]
    if standbys.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for s in standbys.sort_values("replay_lag_bytes", ascending=False).itertuples(index=False):
        reply = ("—" if pd.isna(s.reply_time)
                 else pd.Timestamp(s.reply_time).tz_convert("UTC").strftime("%H:%M:%S"))
        rows.append([s.application_name or "—", s.client_addr, s.state,
                     s.sync_state or "—", _bytes(s.sent_lag_bytes), _bytes(s.write_lag_bytes),
                     _bytes(s.flush_lag_bytes), _bytes(s.replay_lag_bytes),
                     _seconds(s.replay_lag_seconds),
                     "—" if s.slot_name is None or pd.isna(s.slot_name) else s.slot_name,
                     reply])
    return pd.DataFrame(rows, columns=columns)


def slots_table(slots: pd.DataFrame) -> pd.DataFrame:
    """Each slot, the most WAL kept first: inactive slots that keep WAL are the danger."""
    columns = ["slot", "type", "active", "WAL retained", "wal_status", "safe_wal_size",
               "xmin age", "database / plugin"]
    if slots.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for s in slots.sort_values("retained_wal_bytes", ascending=False).itertuples(index=False):
        safe = ("unlimited (max_slot_wal_keep_size = -1)" if pd.isna(s.safe_wal_size_bytes)
                else _bytes(s.safe_wal_size_bytes))
        where = " / ".join(p for p in (s.database, s.plugin) if p) or "—"
        rows.append([s.slot_name, s.slot_type + (" (temporary)" if s.temporary else ""),
                     "yes" if s.active else "NO", _bytes(s.retained_wal_bytes), s.wal_status,
                     safe, "—" if pd.isna(s.xmin_age) else f"{int(s.xmin_age):,}", where])
    return pd.DataFrame(rows, columns=columns)


def inactive_slots_retaining(slots: pd.DataFrame) -> pd.DataFrame:
    """Inactive slots that keep WAL on disk, the most first."""
    if slots.empty:
        return slots
    found = slots[~slots["active"].astype(bool) & (slots["retained_wal_bytes"].fillna(0) > 0)]
    return found.sort_values("retained_wal_bytes", ascending=False)
