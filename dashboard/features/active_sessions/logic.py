"""Average active sessions from stored session-seconds (pure).

A bucket's average active sessions is its active session-seconds divided by the collection
time its runs stand for (runs x interval), so a bucket of two drifted runs is not doubled
and a run that found no active session is a 0. Buckets without a run are gaps
(dashboard/core/timeseries.py decides which).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from collectors.core.sqltext import statement_title
from dashboard.core.own import OwnActivity
from dashboard.core.timeseries import Collection, complete_wide

STATEMENT_LABEL_CHARS = 90
WAIT_ORDER = ("CPU", "Lock", "LWLock", "IO", "IPC", "BufferPin", "Client", "Timeout",
              "Activity", "Extension")


@dataclass(frozen=True)
class ActiveSessions:
    wide: pd.DataFrame  # bucket start x series: average active sessions, NaN in gaps
    hidden_session_seconds: float  # ours, left out


def average_active_sessions(frame: pd.DataFrame, collection: Collection,
                            show_own: bool) -> ActiveSessions:
    """frame: collected_at, series, own, session_seconds (data.session_seconds)."""
    hidden = 0.0
    if not frame.empty and not show_own:
        hidden = float(frame.loc[frame["own"].astype(bool), "session_seconds"].sum())
        frame = frame[~frame["own"].astype(bool)]
    if frame.empty:
        wide = pd.DataFrame()
    else:
        wide = frame.pivot_table(index="collected_at", columns="series",
                                 values="session_seconds", aggfunc="sum")
        wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index, utc=True))
        covered = pd.Series([collection.covered_seconds(b) for b in wide.index],
                            index=wide.index, dtype=float)
        wide = wide.div(covered.where(covered > 0), axis=0)
    completed = complete_wide(wide, collection)
    return ActiveSessions(completed[series_order(completed.columns)], hidden)


def series_order(columns: pd.Index) -> list[str]:
    """Wait event types in a conventional order (CPU first), anything else after by name."""
    names = [str(c) for c in columns]
    known = [w for w in WAIT_ORDER if w in names]
    return known + sorted(n for n in names if n not in WAIT_ORDER)


def latest_average(frame: pd.DataFrame, show_own: bool) -> float:
    """The average active sessions of one interval (data.interval_average); 0 when the run
    found no active session."""
    if frame.empty:
        return 0.0
    if not show_own:
        frame = frame[~frame["own"].astype(bool)]
    return float(frame["sessions"].sum())


def peak_average(active: ActiveSessions) -> float | None:
    totals = active.wide.sum(axis=1, min_count=1).dropna()
    return float(totals.max()) if not totals.empty else None


def statements_table(top: pd.DataFrame, own: OwnActivity, show_own: bool,
                     window_seconds: float, limit: int = 10) -> tuple[pd.DataFrame, int]:
    """The statements with the most active time: average active sessions over the window,
    the wait event types they spent it in, largest first; and how many of ours were left
    out. top: data.top_statements."""
    columns = ["statement", "queryid", "avg active", "waits", "database", "role"]
    if top.empty:
        return pd.DataFrame(columns=columns), 0
    ours = [bool(row.own_session) or own.is_own_statement(row.query, row.usename, row.datname)
            for row in top.itertuples(index=False)]
    mask = pd.Series(ours, index=top.index)
    hidden = 0 if show_own else int(mask.sum())
    shown = top if show_own else top[~mask]
    rows = []
    for row in shown.head(limit).itertuples(index=False):
        waits = json.loads(row.by_wait) if isinstance(row.by_wait, str) else {}
        total = sum(waits.values()) or 1.0
        parts = sorted(waits.items(), key=lambda kv: -kv[1])
        rows.append([
            statement_label(row.query, int(row.queryid)), int(row.queryid),
            float(row.session_seconds) / max(window_seconds, 1.0),
            " · ".join(f"{name} {100 * value / total:.0f} %" for name, value in parts[:3]),
            row.datname, row.usename])
    return pd.DataFrame(rows, columns=columns), hidden


def statement_label(query: object, queryid: int) -> str:
    """The statement as every page names it (its sqlc name, else its first words), or why
    there is none."""
    if queryid == 0:
        return "(no statement id: utility statements, or compute_query_id off)"
    if not isinstance(query, str) or not query.strip():
        return f"queryid {queryid} (text not collected)"
    return statement_title(query).short(STATEMENT_LABEL_CHARS)
