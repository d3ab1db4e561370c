"""The one definition of connection use every page shows (pure).

Usable connections are `max_connections` minus the reserved slots
(`superuser_reserved_connections`, plus `reserved_connections` on 16+): what ordinary roles
can open before the server refuses them. In use is every client backend, Kasho Ops' own
included, since they take slots like any other. The Overview, Connections and Activity pages
all build their tile from `Utilization`: the stored pages from the latest connection_limits
sample (as read, never a bucket's average), the live page from its snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from dashboard.core.figures import DeltaColor

# Share of the usable connections at which the pages warn, and call the pool nearly exhausted.
WARN_PERCENT = 75.0
CRITICAL_PERCENT = 90.0
TILE_LABEL = "Connections in use"


@dataclass(frozen=True)
class Utilization:
    """Connection use at one moment, against the slots ordinary roles may take."""

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

    @property
    def color(self) -> DeltaColor:
        if self.level == "critical":
            return "red"
        return "orange" if self.level == "warning" else "green"

    @property
    def tile_value(self) -> str:
        return f"{self.client_connections} / {self.usable}"

    @property
    def tile_delta(self) -> str:
        return f"{self.percent:.0f} % of usable"

    def tile_help(self, own_sessions: int | None = None) -> str:
        own = (f" {own_sessions} of them are Kasho Ops' own (they take slots too)."
               if own_sessions else "")
        return (f"Client backends at {self.collected_at:%H:%M:%S} UTC against the usable "
                f"connections: max_connections {self.max_connections} minus "
                f"{self.reserved_connections} reserved for superusers (and "
                f"pg_use_reserved_connections), which ordinary roles cannot use.{own}")

    def message(self) -> str:
        free = self.usable - self.client_connections
        text = (f"{self.client_connections} of {self.usable} usable connections in use "
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
    client_connections): the latest one."""
    if limits.empty:
        return None
    row = limits.sort_values("collected_at").iloc[-1]
    return Utilization(pd.Timestamp(row["collected_at"]).to_pydatetime(),
                       round(float(row["client_connections"])),
                       round(float(row["max_connections"])),
                       round(float(row["reserved_connections"])))
