"""Storage page logic (pure): the disk-full forecast in words, with how sure it is; size and
growth tables for databases, schemas and tables; disk reads and cache hit ratios by table;
shared buffers by relation; what per-table history covers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard.core.relations import range_days, range_delta
from dashboard.core.units import bytes_as_text, format_bytes

BLOCK_BYTES = 8192
# A forecast further out than this many times its history is not a forecast but a guess.
HORIZON_FACTOR = 10
CRITICAL_DAYS = 7
WARNING_DAYS = 30
BASES = ("configured capacity", "host filesystem")


@dataclass(frozen=True)
class ForecastText:
    basis: str
    headline: str
    detail: str
    confidence: str
    severity: str  # critical | warning | ok | unknown
    days_to_full: float | None = None
    short: str = "—"  # for a headline tile


def soonest(texts: list[ForecastText]) -> ForecastText:
    """The forecast to headline: the soonest full date, else the first with any news."""
    dated = [t for t in texts if t.days_to_full is not None and t.severity != "ok"]
    if dated:
        return min(dated, key=lambda t: t.days_to_full or 0.0)
    return next((t for t in texts if t.severity != "unknown"), texts[0])


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _per_day(bytes_per_day: float | None) -> str:
    return "—" if bytes_per_day is None else f"{format_bytes(bytes_per_day, signed=True)}/day"


def _history(hours: float | None) -> str:
    if hours is None:
        return "no history"
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def forecast_texts(forecast: pd.DataFrame, capacity: pd.DataFrame) -> list[ForecastText]:
    """One ForecastText per basis, in BASES order, whatever the view returned."""
    rows = {str(r["basis"]): r for _, r in forecast.iterrows()} if not forecast.empty else {}
    note = None
    if not capacity.empty and isinstance(capacity.iloc[0].get("filesystem_note"), str):
        note = str(capacity.iloc[0]["filesystem_note"])
    texts = []
    for basis in BASES:
        row = rows.get(basis)
        if row is None or str(row["status"]) in ("no capacity configured", "not measured"):
            texts.append(_not_measured(basis, note))
        else:
            texts.append(_forecast_text(basis, row))
    return texts


def _not_measured(basis: str, note: str | None) -> ForecastText:
    if basis == "configured capacity":
        return ForecastText(basis, "No capacity configured",
                            "Set disk_capacity_bytes on this target in kasho-ops.toml to "
                            "forecast when the disk fills.", "—", "unknown")
    return ForecastText(basis, "Not measured",
                        (note or "The collector reads the data directory's filesystem only "
                         "when it runs on the database host (host_filesystem = true)."),
                        "—", "unknown")


def _forecast_text(basis: str, row: pd.Series) -> ForecastText:
    status = str(row["status"])
    hours = _number(row.get("history_hours"))
    samples = int(_number(row.get("samples")) or 0)
    growth = _number(row.get("growth_bytes_per_day"))
    low, high = _number(row.get("growth_low_bytes_per_day")), _number(
        row.get("growth_high_bytes_per_day"))
    free = _number(row.get("free_bytes"))
    capacity = _number(row.get("capacity_bytes"))
    used = f"{format_bytes(capacity - free)} of {format_bytes(capacity)} used" if (
        capacity is not None and free is not None) else ""
    history = f"{_history(hours)} of history, {samples:,} samples"
    if status == "insufficient history":
        return ForecastText(basis, "Not forecast yet",
                            f"{used}. Too little history to extrapolate: {history} (a "
                            "forecast needs at least 24 h and 12 samples).",
                            "none: not enough history", "unknown", short="not yet")
    if status == "not growing":
        return ForecastText(basis, "Not growing",
                            f"{used}. Usage did not grow over {history} "
                            f"({_per_day(growth)}).", f"fit over {history}", "ok",
                            short="not growing")
    if status == "full":
        return ForecastText(basis, "Full", f"{used}.", "measured", "critical", 0.0, "full")
    days = _number(row.get("days_to_full"))
    r2 = _number(row.get("r2"))
    level = str(row.get("confidence") or "low")
    confidence = f"{level}: r² {r2:.2f} over {history}" if r2 is not None else level
    spread = (f" (between {_per_day(low)} and {_per_day(high)})"
              if low is not None and high is not None else "")
    horizon_days = HORIZON_FACTOR * (hours or 0) / 24
    if days is None:
        return ForecastText(basis, "Not forecast", used, confidence, "unknown")
    if days > horizon_days:
        return ForecastText(
            basis, f"Not within {horizon_days:.0f} days",
            f"{used}, growing {_per_day(growth)}{spread}. At that rate it would fill in "
            f"{days:,.0f} days, more than {HORIZON_FACTOR}× the history behind the rate: "
            "too far to call.", confidence, "ok", days, f"> {horizon_days:.0f} days")
    full_at = pd.Timestamp(row["full_at"]).tz_convert("UTC")
    earliest, latest = row.get("full_at_earliest"), row.get("full_at_latest")
    window = ""
    if earliest is not None and not pd.isna(earliest):
        window = f" (earliest {pd.Timestamp(earliest).tz_convert('UTC'):%Y-%m-%d}, latest " + (
            f"{pd.Timestamp(latest).tz_convert('UTC'):%Y-%m-%d})"
            if latest is not None and not pd.isna(latest)
            else "never at the slowest rate the history allows)")
    severity = ("critical" if days < CRITICAL_DAYS else "warning" if days < WARNING_DAYS
                else "ok")
    return ForecastText(basis, f"Full around {full_at:%Y-%m-%d}",
                        f"In {days:,.1f} days{window}: {used}, growing "
                        f"{_per_day(growth)}{spread}.", confidence, severity, days,
                        f"in {days:,.0f} days" if days >= 2 else f"in {days * 24:,.0f} h")


def forecast_row(forecast: pd.DataFrame, basis: str) -> pd.Series | None:
    """The disk_forecast row of one basis, if the view returned it."""
    if forecast.empty:
        return None
    rows = forecast[forecast["basis"] == basis]
    return None if rows.empty else rows.iloc[0]


def growth_text(row: pd.Series | None) -> str:
    """The fitted growth per day for a tile, once there is enough history to fit, whether
    or not a capacity is configured to forecast against."""
    if row is None or not bool(row.get("enough_history")):
        return "—"
    growth = _number(row.get("growth_bytes_per_day"))
    return "—" if growth is None else _per_day(growth)


def sizes_with_growth(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """name, size, growth over the range and per day, for databases or schemas
    (columns name, collected_at, size_bytes, first_collected_at, first_size_bytes)."""
    columns = [label, "size", "growth in range", "per day"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    growth = frame["size_bytes"].astype("float64") - frame["first_size_bytes"].astype("float64")
    days = range_days(frame)
    return pd.DataFrame({
        label: frame["name"].astype(str),
        "size": frame["size_bytes"].astype("float64"),
        "growth in range": growth,
        "per day": growth / days,
    }, columns=columns).sort_values("size", ascending=False).reset_index(drop=True)


def table_sizes(tables: pd.DataFrame) -> pd.DataFrame:
    """Tracked tables by total size: heap, TOAST, indexes, live rows, growth per day over
    the range (NaN when the table has one sample in it), why it is tracked."""
    columns = ["table", "total", "heap", "toast", "indexes", "live rows", "growth per day",
               "tracked because"]
    if tables.empty:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame({
        "table": tables["schemaname"].astype(str) + "." + tables["relname"].astype(str),
        "total": tables["total_bytes"].astype("float64"),
        "heap": tables["heap_bytes"].astype("float64"),
        "toast": tables["toast_bytes"].astype("float64"),
        "indexes": tables["indexes_bytes"].astype("float64"),
        "live rows": tables["n_live_tup"].astype("float64"),
        "growth per day": _growth_per_day(tables, "total_bytes"),
        "tracked because": tables["tracked_because"].map(_because),
    }, columns=columns)
    return out.sort_values("total", ascending=False, na_position="last").reset_index(drop=True)


def _growth_per_day(frame: pd.DataFrame, column: str) -> pd.Series:
    last = frame[column].astype("float64")
    first = frame[f"first_{column}"].astype("float64")
    return (last - first) / range_days(frame)


def _because(reasons: object) -> str:
    labels = {"size": "largest", "writes": "most written", "reads": "most read from disk",
              "seq_scans": "sequential scans", "vacuum": "needs vacuum",
              "analyze": "needs analyze", "freeze": "oldest XIDs"}
    if isinstance(reasons, list | tuple | np.ndarray):
        return ", ".join(labels.get(str(r), str(r)) for r in reasons)
    return ""


def fastest_growing(tables: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The tracked tables growing fastest over the range (known growth only)."""
    sizes = table_sizes(tables)
    growing = sizes[sizes["growth per day"].notna() & (sizes["growth per day"] > 0)]
    return growing.sort_values("growth per day", ascending=False).head(limit).reset_index(
        drop=True)


def disk_reads(tables: pd.DataFrame, limit: int = 15) -> pd.DataFrame:
    """Tables by blocks read from disk (not shared buffers) over the range: heap, index and
    TOAST reads, and hit ratios. Falls back to the totals since the statistics reset when a
    table has a single sample in the range (the 'over' column says which)."""
    columns = ["table", "read from disk", "heap hit ratio", "index hit ratio", "over"]
    if tables.empty:
        return pd.DataFrame(columns=columns)
    parts = {}
    in_range = range_days(tables).notna()
    for column in ("heap_blks_read", "heap_blks_hit", "idx_blks_read", "idx_blks_hit",
                   "toast_blks_read", "toast_blks_hit"):
        delta = range_delta(tables, column)
        parts[column] = delta.where(in_range, tables[column].astype("float64"))
    reads = parts["heap_blks_read"] + parts["idx_blks_read"] + parts["toast_blks_read"]
    out = pd.DataFrame({
        "table": tables["schemaname"].astype(str) + "." + tables["relname"].astype(str),
        "read from disk": reads * BLOCK_BYTES,
        "heap hit ratio": _ratio(parts["heap_blks_hit"], parts["heap_blks_read"]),
        "index hit ratio": _ratio(parts["idx_blks_hit"], parts["idx_blks_read"]),
        "over": np.where(in_range, "the range", "since stats reset"),
    }, columns=columns)
    out = out[out["read from disk"].fillna(0) > 0]
    return out.sort_values("read from disk", ascending=False).head(limit).reset_index(drop=True)


def _ratio(hits: pd.Series, reads: pd.Series) -> pd.Series:
    total = hits + reads
    return (hits / total).where(total > 0, np.nan)


def buffer_cache_table(buffers: pd.DataFrame) -> pd.DataFrame:
    """What occupies shared buffers: relation, size, share of the cache, dirty, hotness."""
    columns = ["relation", "kind", "in cache", "share of cache", "dirty", "average usage"]
    if buffers.empty:
        return pd.DataFrame(columns=columns)
    kinds = {"r": "table", "i": "index", "t": "TOAST", "m": "materialized view",
             "S": "sequence", "": ""}
    schema = buffers["schemaname"].astype(str)
    names = np.where(schema == "(other database)", "database " + buffers["datname"].astype(str)
                     + " (all of it)",
                     np.where(schema == "(unused)", "free buffers",
                              schema + "." + buffers["relname"].astype(str)))
    return pd.DataFrame({
        "relation": names,
        "kind": buffers["relkind"].astype(str).map(lambda k: kinds.get(k, k)),
        "in cache": buffers["bytes"].astype("float64"),
        "share of cache": buffers["percent_of_cache"].astype("float64") / 100,
        "dirty": buffers["dirty_buffers"].astype("float64") * BLOCK_BYTES,
        "average usage": buffers["average_usage"].astype("float64"),
    }, columns=columns)


BYTE_COLUMNS = ("size", "growth in range", "total", "heap", "toast", "indexes",
                "tables (heap + TOAST)", "read from disk", "in cache", "dirty")
PER_DAY_COLUMNS = ("per day", "growth per day")


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its byte columns as text in binary units, like pg_size_pretty."""
    return bytes_as_text(table, BYTE_COLUMNS, PER_DAY_COLUMNS)


def tracking_note(top_tables: int, tracked: int, summary: pd.DataFrame) -> str:
    """What per-table history covers, in words (plain text: no names in it)."""
    total = int(summary.iloc[0]["tables"]) if not summary.empty else None
    of = f" of {total:,} tables" if total is not None else ""
    return (f"Per-table history is kept for {tracked:,}{of}: the {top_tables} largest, most "
            f"written, most read from disk and most sequentially scanned, plus the "
            f"{top_tables} most overdue for vacuum, for analyze and for freezing "
            "([collector] top_tables). Others are counted, not kept.")
