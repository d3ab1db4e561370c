"""I/O and checkpoints page logic (pure): the headline figures, buffers written by backends
from whichever source the server's version has, and the tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard.core.units import format_bytes

# pg_stat_bgwriter.buffers_backend counted every process but these two; pg_stat_io (17+)
# names them, so the same figure is its relation writes by every other backend type.
NOT_BACKENDS = ("checkpointer", "background writer")


@dataclass(frozen=True)
class CheckpointSummary:
    timed: float
    requested: float
    write_seconds: float
    sync_seconds: float
    buffers_written: float

    @property
    def requested_share(self) -> float | None:
        total = self.timed + self.requested
        return self.requested / total if total else None


def checkpoint_summary(history: pd.DataFrame) -> CheckpointSummary | None:
    if history.empty:
        return None
    return CheckpointSummary(
        timed=float(history["num_timed"].sum()),
        requested=float(history["num_requested"].sum()),
        write_seconds=float(history["write_time_ms"].sum()) / 1000,
        sync_seconds=float(history["sync_time_ms"].sum()) / 1000,
        buffers_written=float(history["buffers_written"].sum()))


def buffers_by_writer(checkpoints: pd.DataFrame, io: pd.DataFrame) -> pd.DataFrame:
    """collected_at, writer, buffers: buffers written per bucket by the checkpointer, the
    background writer and backends. Backends come from pg_stat_bgwriter.buffers_backend
    where the server had it (before 17), else from pg_stat_io's relation writes."""
    if checkpoints.empty:
        return pd.DataFrame(columns=["collected_at", "writer", "buffers"])
    frames = [checkpoints[["collected_at"]].assign(writer="checkpointer",
                                                   buffers=checkpoints["buffers_written"]),
              checkpoints[["collected_at"]].assign(writer="background writer",
                                                   buffers=checkpoints["buffers_clean"])]
    if checkpoints["buffers_backend"].notna().any():
        frames.append(checkpoints[["collected_at"]].assign(
            writer="backends", buffers=checkpoints["buffers_backend"]))
    elif not io.empty:
        backends = io[~io["backend_type"].isin(NOT_BACKENDS)]
        per_bucket = backends.groupby("collected_at", as_index=False)["relation_writes"].sum()
        frames.append(per_bucket.rename(columns={"relation_writes": "buffers"})
                      .assign(writer="backends"))
    out = pd.concat(frames, ignore_index=True)
    out["buffers"] = out["buffers"].fillna(0.0)
    return out.sort_values(["collected_at", "writer"]).reset_index(drop=True)


def backend_write_share(buffers: pd.DataFrame) -> float | None:
    """Share of all buffer writes done by backends themselves: high means shared_buffers
    is too small or the background writer too timid."""
    if buffers.empty:
        return None
    total = float(buffers["buffers"].sum())
    backend = float(buffers.loc[buffers["writer"] == "backends", "buffers"].sum())
    return backend / total if total else None


def io_table(totals: pd.DataFrame) -> pd.DataFrame:
    """pg_stat_io over the range, busiest first, with sizes and times readable; rows with no
    activity are dropped."""
    columns = ["backend type", "object", "context", "read", "written", "extended", "hits",
               "hit ratio", "evictions", "fsyncs", "read time (ms)", "write time (ms)"]
    if totals.empty:
        return pd.DataFrame(columns=columns)
    frame = totals.fillna(0.0)
    moved = frame["read_bytes"] + frame["write_bytes"] + frame["extend_bytes"]
    active = frame[(moved > 0) | (frame["hits"] > 0) | (frame["fsyncs"] > 0)].copy()
    active["moved"] = moved[active.index]
    active = active.sort_values(["moved", "hits"], ascending=False)
    lookups = active["hits"] + active["reads"]
    return pd.DataFrame({
        "backend type": active["backend_type"], "object": active["object"],
        "context": active["context"],
        "read": active["read_bytes"].map(format_bytes),
        "written": active["write_bytes"].map(format_bytes),
        "extended": active["extend_bytes"].map(format_bytes),
        "hits": active["hits"],
        "hit ratio": (active["hits"] / lookups.where(lookups > 0)).round(4),
        "evictions": active["evictions"], "fsyncs": active["fsyncs"],
        "read time (ms)": active["read_time_ms"].round(1),
        "write time (ms)": active["write_time_ms"].round(1)}).reset_index(drop=True)


def statement_io_table(statements: pd.DataFrame) -> pd.DataFrame:
    """The statements by I/O time, with the text cut to one line of 120 characters."""
    if statements.empty:
        return statements
    text = statements["query"].str.replace(r"\s+", " ", regex=True).str.slice(0, 120)
    return pd.DataFrame({
        "statement": text, "database": statements["datname"],
        "calls": statements["calls"], "I/O time (ms)": statements["io_time_ms"].round(1),
        "temp I/O time (ms)": statements["temp_io_time_ms"].round(1),
        "WAL": statements["wal_bytes"].map(
            lambda v: format_bytes(v) if pd.notna(v) else "—"),
        "full-page images": statements["wal_fpi"],
        "WAL buffers full": statements["wal_buffers_full"],
        "workers planned": statements["workers_planned"],
        "workers launched": statements["workers_launched"],
        "JIT (ms)": statements["jit_time_ms"].round(1)})
