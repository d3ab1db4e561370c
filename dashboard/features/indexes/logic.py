"""Indexes page logic (pure): findings from the tracked indexes and tables, each with its
size, the write cost it adds, why it matters, how sure it is and the DDL a DBA would run;
index cache hit ratios."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from collectors.actions.index_advice import quote_identifier
from dashboard.core.relations import range_days, range_delta

BLOCK_BYTES = 8192
# A sequentially scanned table "may lack an index" from these on (per scan, per day, rows).
SEQ_ROWS_PER_SCAN = 10_000
SEQ_SCANS_PER_DAY = 10
MIN_TABLE_ROWS = 10_000
KINDS = ("invalid", "duplicate", "redundant", "unused", "missing")
KIND_LABELS = {"invalid": "invalid", "duplicate": "duplicate", "redundant": "redundant",
               "unused": "unused", "missing": "may lack an index"}
_REINDEX_LEFTOVER = re.compile(r"_cc(new|old)\d*$")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS
    relation: str  # schema.index, or schema.table for "missing"
    table: str
    size_bytes: float | None
    scans: float | None
    writes_per_day: float | None
    why: str
    how_sure: str
    ddl: str


@dataclass(frozen=True)
class StatisticsAge:
    since: datetime | None  # pg_stat_database.stats_reset; None: never reset (or crash)
    days: float | None

    @property
    def words(self) -> str:
        if self.since is None:
            return ("since the statistics began (never reset, or lost in a crash recovery: "
                    "pg_stat_database.stats_reset is empty)")
        return f"since {self.since:%Y-%m-%d %H:%M} UTC ({self.days:,.1f} days)"


def statistics_age(summary: pd.DataFrame, now: datetime) -> StatisticsAge:
    if summary.empty or pd.isna(summary.iloc[0]["stats_reset"]):
        return StatisticsAge(None, None)
    since = pd.Timestamp(summary.iloc[0]["stats_reset"]).tz_convert("UTC").to_pydatetime()
    return StatisticsAge(since, (now - since).total_seconds() / 86400)


def _qualified(schema: object, name: object) -> str:
    return f"{quote_identifier(str(schema))}.{quote_identifier(str(name))}"


def _number(value: object) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def index_writes_per_day(indexes: pd.DataFrame, age: StatisticsAge) -> pd.Series:
    """Index entries the table's writes add per day (inserts + non-HOT updates), over the
    range; else averaged since the statistics reset; NaN when neither is known."""
    if indexes.empty:
        return pd.Series(dtype="float64")
    in_range = range_delta(indexes, "table_index_writes") / range_days(indexes)
    lifetime = (indexes["table_index_writes"].astype("float64") / age.days
                if age.days else pd.Series(np.nan, index=indexes.index))
    return in_range.where(in_range.notna(), lifetime)


def _unused_sureness(age: StatisticsAge) -> str:
    standby = " Scans on standbys are not counted here."
    if age.days is None:
        return "unknown: the statistics' age is unknown." + standby
    if age.days >= 30:
        return f"high: no scan in {age.days:,.0f} days of statistics." + standby
    if age.days >= 7:
        return (f"medium: {age.days:,.0f} days of statistics; a monthly job may still "
                "need it." + standby)
    return (f"low: statistics are only {age.days:,.1f} days old; wait before dropping."
            + standby)


def _drop(row: pd.Series) -> str:
    if isinstance(row.get("constraint_name"), str) and row["constraint_name"]:
        return (f"ALTER TABLE {_qualified(row['schemaname'], row['relname'])} DROP CONSTRAINT "
                f"{quote_identifier(str(row['constraint_name']))};")
    return f"DROP INDEX CONCURRENTLY {_qualified(row['schemaname'], row['indexrelname'])};"


def index_findings(indexes: pd.DataFrame, age: StatisticsAge) -> list[Finding]:
    """Invalid, duplicate, redundant and unused indexes, in that order, largest first."""
    if indexes.empty:
        return []
    writes = index_writes_per_day(indexes, age)
    found: list[Finding] = []
    for position, (_, row) in enumerate(indexes.iterrows()):
        kinds = [str(k) for k in (row["findings"] if isinstance(
            row["findings"], list | tuple | np.ndarray) else [])]
        name = _qualified(row["schemaname"], row["indexrelname"])
        table = _qualified(row["schemaname"], row["relname"])
        size = _number(row["index_bytes"])
        scans = _number(row["idx_scan"])
        per_day = _number(writes.iloc[position])
        cost = (f"Every insert and non-HOT update of {table} writes it "
                f"({per_day:,.0f} entries a day)" if per_day is not None else
                f"Every insert and non-HOT update of {table} writes it")
        for kind in kinds:
            if kind == "invalid":
                if bool(row["build_in_progress"]):
                    found.append(Finding(kind, name, table, size, scans, per_day,
                                         "Being built now (CREATE INDEX CONCURRENTLY or REINDEX "
                                         "CONCURRENTLY in progress); invalid until it ends.",
                                         "certain (pg_stat_progress_create_index)", "—"))
                    continue
                drop = f"DROP INDEX CONCURRENTLY {name};"
                ddl = drop if _REINDEX_LEFTOVER.search(str(row["indexrelname"])) else (
                    f"{drop}\n-- or rebuild it in place:\nREINDEX INDEX CONCURRENTLY {name};")
                found.append(Finding(
                    kind, name, table, size, scans, per_day,
                    "A CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY failed and left it "
                    f"invalid: the planner never uses it, yet {cost[0].lower() + cost[1:]}.",
                    "certain (pg_index.indisvalid is false)", ddl))
            elif kind == "duplicate":
                found.append(Finding(
                    kind, name, table, size, scans, per_day,
                    f"Same definition as {row['duplicate_of']}: the planner needs only one, "
                    f"both are kept on disk and in cache. {cost}.",
                    "certain (identical definitions)", _drop(row)))
            elif kind == "redundant":
                found.append(Finding(
                    kind, name, table, size, scans, per_day,
                    f"Its columns lead {row['redundant_with']}, which serves the same "
                    f"lookups. {cost}.",
                    "high: unless the narrower index is kept on purpose (much smaller, for a "
                    "hot lookup), drop it", _drop(row)))
            elif kind == "unused":
                found.append(Finding(
                    kind, name, table, size, scans, per_day,
                    f"No scan {age.words}. {cost}, and it takes disk and cache for nothing.",
                    _unused_sureness(age), _drop(row)))
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(found, key=lambda f: (order[f.kind], -(f.size_bytes or 0)))


def missing_index_findings(tables: pd.DataFrame, age: StatisticsAge) -> list[Finding]:
    """Tables whose sequential scans read many rows each, often: an index may serve the
    statements behind them (a hint; hypopg advice checks a statement)."""
    if tables.empty:
        return []
    days = range_days(tables)
    scans = range_delta(tables, "seq_scan")
    rows_read = range_delta(tables, "seq_tup_read")
    over_range = days.notna() & scans.notna() & rows_read.notna()
    lifetime_days = age.days
    found = []
    for position, (_, row) in enumerate(tables.iterrows()):
        if over_range.iloc[position]:
            n_scans, n_rows, span = (float(scans.iloc[position]), float(rows_read.iloc[position]),
                                     float(days.iloc[position]))
            over = "over the range"
        elif lifetime_days:
            n_scans, n_rows = float(row["seq_scan"]), float(row["seq_tup_read"])
            span = lifetime_days
            over = "since the statistics reset"
        else:
            continue
        if n_scans <= 0 or span <= 0:
            continue
        per_scan, per_day = n_rows / n_scans, n_scans / span
        if (per_scan < SEQ_ROWS_PER_SCAN or per_day < SEQ_SCANS_PER_DAY
                or float(row["n_live_tup"]) < MIN_TABLE_ROWS):
            continue
        table = _qualified(row["schemaname"], row["relname"])
        found.append(Finding(
            "missing", table, table, _number(row["total_bytes"]), n_scans, None,
            f"{per_day:,.0f} sequential scans a day {over}, reading {per_scan:,.0f} rows each "
            f"({per_scan * per_day:,.0f} rows a day) of {float(row['n_live_tup']):,.0f}.",
            "a hint: whether an index helps depends on the statements; check one with "
            "hypopg below", "—"))
    return sorted(found, key=lambda f: -(f.scans or 0))


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    columns = ["finding", "relation", "table", "size", "scans", "index writes per day",
               "why it matters", "how sure", "DDL (not run)"]
    return pd.DataFrame([[KIND_LABELS[f.kind], f.relation, f.table, f.size_bytes, f.scans,
                          f.writes_per_day, f.why, f.how_sure, f.ddl] for f in findings],
                        columns=columns)


def index_cache_table(indexes: pd.DataFrame, limit: int = 20) -> pd.DataFrame:
    """Tracked indexes by blocks read from disk over the range (else since the statistics
    reset): scans, reads, hit ratio, size."""
    columns = ["index", "table", "scans", "read from disk", "hit ratio", "size", "over"]
    if indexes.empty:
        return pd.DataFrame(columns=columns)
    in_range = range_days(indexes).notna()
    parts = {c: range_delta(indexes, c).where(in_range, indexes[c].astype("float64"))
             for c in ("idx_scan", "idx_blks_read", "idx_blks_hit")}
    total = parts["idx_blks_read"] + parts["idx_blks_hit"]
    out = pd.DataFrame({
        "index": indexes["schemaname"].astype(str) + "." + indexes["indexrelname"].astype(str),
        "table": indexes["relname"].astype(str),
        "scans": parts["idx_scan"],
        "read from disk": parts["idx_blks_read"] * BLOCK_BYTES,
        "hit ratio": (parts["idx_blks_hit"] / total).where(total > 0, np.nan),
        "size": indexes["index_bytes"].astype("float64"),
        "over": np.where(in_range, "the range", "since stats reset"),
    }, columns=columns)
    return out.sort_values(["read from disk", "scans"], ascending=False).head(limit).reset_index(
        drop=True)


def seq_scanned_tables(findings: list[Finding]) -> list[str]:
    """The tables of 'may lack an index' findings, for the advice picker."""
    return [f.relation for f in findings if f.kind == "missing"]
