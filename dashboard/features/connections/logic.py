"""Connections page logic (pure): the utilization rule (in use against max_connections minus
reserved slots) and the breakdown and idle-in-transaction tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

# Share of the connections ordinary roles may use (max_connections minus the reserved
# slots) at which the pages warn, and at which they call the pool nearly exhausted.
WARN_PERCENT = 75.0
CRITICAL_PERCENT = 90.0


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


# -- activity now ---------------------------------------------------------------------------


