"""Connections page logic (pure): the headline tiles, the breakdown and idle-in-transaction
tables, and the frames the charts draw, with Kasho Ops' own sessions left out unless shown.
Connection use against the usable slots is the shared rule of dashboard/core/utilization.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard.core.figures import DeltaColor
from dashboard.core.timeseries import Collection, complete_wide
from dashboard.core.units import format_seconds
from dashboard.core.utilization import Utilization

BREAKDOWN_COLUMNS = ["connections", "share %", "waiting"]


def breakdown_table(latest: pd.DataFrame, column: str) -> pd.DataFrame:
    """The latest sample's connections per value of `column`, largest first, with shares
    and how many wait for a lock."""
    if latest.empty:
        return pd.DataFrame(columns=[column, *BREAKDOWN_COLUMNS])
    table = latest.groupby(column, as_index=False).agg(
        connections=("connections", "sum"), waiting=("waiting_on_lock", "sum"))
    table["share %"] = 100.0 * table["connections"] / table["connections"].sum()
    return table.sort_values(["connections", column], ascending=[False, True]).reset_index(
        drop=True)[[column, *BREAKDOWN_COLUMNS]]


IDLE_COLUMNS = ["database", "role", "application", "client", "aborted", "sessions",
                "longest idle (s)"]


def idle_in_transaction_table(latest: pd.DataFrame) -> pd.DataFrame:
    """Sessions idle in a transaction at the latest sample, by who holds them, the
    longest-held first."""
    if latest.empty:
        return pd.DataFrame(columns=IDLE_COLUMNS)
    idle = latest[latest["state"].str.startswith("idle in transaction")]
    table = pd.DataFrame({
        "database": idle["datname"], "role": idle["usename"],
        "application": idle["application_name"], "client": idle["client_addr"],
        "aborted": idle["state"].str.contains("aborted"), "sessions": idle["connections"],
        "longest idle (s)": idle["longest_in_state_seconds"]})
    return table.sort_values("longest idle (s)", ascending=False).reset_index(drop=True)


def visible_sessions(latest: pd.DataFrame, show_own: bool) -> pd.DataFrame:
    """The latest sample's rows to show (store.connection_use adds the `own` column)."""
    if latest.empty or show_own:
        return latest
    return latest[~latest["own"].astype(bool)]


def breakdown_on_grid(frame: pd.DataFrame, collection: Collection,
                      show_own: bool) -> pd.DataFrame:
    """Mean connections per bucket and series (data.connections_by), ours left out unless
    shown, on the window's grid."""
    if not frame.empty and not show_own:
        frame = frame[~frame["own"].astype(bool)]
    wide = (frame.pivot_table(index="collected_at", columns="series", values="connections",
                              aggfunc="sum") if not frame.empty else pd.DataFrame())
    return complete_wide(wide, collection)


def use_on_grid(limits: pd.DataFrame, collection: Collection) -> pd.DataFrame:
    """client_connections and usable per bucket (data.connection_limits), gaps NaN."""
    if limits.empty:
        return complete_wide(pd.DataFrame(columns=["client_connections", "usable"]),
                             collection, found_nothing_is_zero=False)
    wide = pd.DataFrame({
        "client_connections": limits["client_connections"].to_numpy(),
        "usable": (limits["max_connections"] - limits["reserved_connections"]).to_numpy()},
        index=pd.DatetimeIndex(pd.to_datetime(limits["collected_at"], utc=True)))
    return complete_wide(wide, collection, found_nothing_is_zero=False)


def ages_on_grid(ages: pd.DataFrame, collection: Collection) -> pd.DataFrame:
    """The oldest ages per bucket (data.session_ages), gaps NaN; a run that found no
    session is an age of 0."""
    columns = ["longest_transaction_seconds", "longest_query_seconds",
               "longest_idle_in_transaction_seconds"]
    wide = (ages.set_index(pd.DatetimeIndex(pd.to_datetime(ages["collected_at"], utc=True)))
            [columns] if not ages.empty else pd.DataFrame(columns=columns))
    return complete_wide(wide, collection)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    delta: str | None = None
    delta_color: DeltaColor = "off"
    help: str | None = None


def tiles(utilization: Utilization, own_sessions: int, idle: pd.DataFrame,
          latest: pd.DataFrame, ages: pd.DataFrame) -> list[Tile]:
    """The four headline tiles, at the latest sample."""
    latest_ages = ages.sort_values("collected_at").iloc[-1] if not ages.empty else None
    return [
        Tile("In use, latest", utilization.tile_value, utilization.tile_delta,
             utilization.color, utilization.tile_help(own_sessions)),
        Tile("Idle in transaction, latest", f"{int(idle['sessions'].sum())}",
             f"longest {format_seconds(idle['longest idle (s)'].max())}" if not idle.empty
             else None, "off",
             "Sessions holding a transaction open without running a query, at the latest "
             "sample: they keep locks and hold back vacuum"),
        Tile("Waiting on a lock, latest",
             f"{int(latest['waiting_on_lock'].sum())}" if not latest.empty else "—", None,
             "off", "Client backends waiting for a heavyweight lock at the latest sample; see "
             "the Locks and Activity pages"),
        Tile("Oldest transaction, latest",
             format_seconds(latest_ages["longest_transaction_seconds"])
             if latest_ages is not None else "—", None, "off",
             "Age of the oldest open transaction at the latest sample in the range"),
    ]
