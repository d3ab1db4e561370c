"""PgBouncer logic for the Connections page (pure): pool saturation and the pools table,
average query and transaction times."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SATURATED = 0.9  # share of the pool's server connections busy with a client


@dataclass(frozen=True)
class PoolHeadline:
    pools: int
    saturation: float | None  # the busiest pool's active servers / pool_size
    busiest_pool: str
    clients_waiting: int
    longest_wait_seconds: float


def pools_table(latest: pd.DataFrame) -> pd.DataFrame:
    """One row per pool: clients active and waiting, the longest wait, server connections by
    state, pool size and saturation (active servers / pool size), busiest first."""
    columns = ["pool", "mode", "clients active", "clients waiting", "longest wait (s)",
               "servers active", "servers idle", "servers used", "pool size", "saturation"]
    if latest.empty:
        return pd.DataFrame(columns=columns)
    size = latest["pool_size"].astype("float64")
    saturation = (latest["sv_active"] / size.where(size > 0)).round(3)
    table = pd.DataFrame({
        "pool": latest["database"] + "/" + latest["usename"],
        "mode": latest["pool_mode"].fillna(""),
        "clients active": latest["cl_active"], "clients waiting": latest["cl_waiting"],
        "longest wait (s)": latest["maxwait_seconds"].round(3),
        "servers active": latest["sv_active"], "servers idle": latest["sv_idle"],
        "servers used": latest["sv_used"], "pool size": latest["pool_size"],
        "saturation": saturation})
    return table.sort_values(["saturation", "clients waiting"], ascending=False,
                             na_position="last").reset_index(drop=True)


def pool_headline(table: pd.DataFrame) -> PoolHeadline | None:
    if table.empty:
        return None
    saturations = table["saturation"].dropna()
    busiest = table.loc[saturations.idxmax(), "pool"] if not saturations.empty else ""
    return PoolHeadline(
        pools=len(table),
        saturation=float(saturations.max()) if not saturations.empty else None,
        busiest_pool=str(busiest),
        clients_waiting=int(table["clients waiting"].sum()),
        longest_wait_seconds=float(table["longest wait (s)"].max() or 0.0))


def average_times(timings: pd.DataFrame) -> pd.DataFrame:
    """collected_at, avg query (ms), avg transaction (ms), avg wait (ms) over all databases
    per bucket; buckets without queries are left out (no average of nothing)."""
    if timings.empty:
        return pd.DataFrame(columns=["collected_at", "avg query (ms)",
                                     "avg transaction (ms)", "avg wait (ms)"])
    per = timings.groupby("collected_at", as_index=False)[
        ["queries", "transactions", "query_time_us", "xact_time_us", "wait_time_us"]].sum()
    per = per[per["queries"] > 0]
    transactions = per["transactions"].where(per["transactions"] > 0)
    return pd.DataFrame({
        "collected_at": per["collected_at"],
        "avg query (ms)": per["query_time_us"] / per["queries"] / 1000,
        "avg transaction (ms)": per["xact_time_us"] / transactions / 1000,
        "avg wait (ms)": per["wait_time_us"] / per["queries"] / 1000}).reset_index(drop=True)


def overall_average_ms(timings: pd.DataFrame, time_column: str, count_column: str) -> float | None:
    """Average over the whole range, weighted by count (µs totals -> ms)."""
    if timings.empty or float(timings[count_column].sum()) == 0:
        return None
    return float(timings[time_column].sum()) / float(timings[count_column].sum()) / 1000
