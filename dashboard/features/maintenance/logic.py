"""Maintenance page logic (pure): which tables autovacuum owes a vacuum or an analyze and why
it has not run, maintenance in progress, wraparound per database in words, what holds the
xmin horizon back, and bloat estimates with how sure they are."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from dashboard.core.units import format_seconds

XID_STOP_AGE = 2**31 - 1 - 3_000_000
# A forecast this much further out than the history behind it is a guess.
HORIZON_FACTOR = 10


def _value(row: pd.Series | dict[str, object], key: str) -> float | None:
    value = row.get(key)
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _table_name(frame: pd.DataFrame) -> pd.Series:
    return frame["schemaname"].astype(str) + "." + frame["relname"].astype(str)


def _latest(a: object, b: object) -> pd.Timestamp | None:
    stamps = [pd.Timestamp(v) for v in (a, b) if v is not None and not pd.isna(v)]
    return max(stamps) if stamps else None


@dataclass(frozen=True)
class AutovacuumState:
    enabled: bool
    track_counts: bool
    workers_busy: int
    max_workers: int
    naptime_seconds: float

    @property
    def saturated(self) -> bool:
        return self.workers_busy >= self.max_workers


def autovacuum_state(status: pd.DataFrame) -> AutovacuumState | None:
    if status.empty:
        return None
    row = status.iloc[0]
    return AutovacuumState(bool(row["autovacuum"]), bool(row["track_counts"]),
                           int(row["workers_busy"]), int(row["max_workers"]),
                           float(row["naptime_seconds"]))


def vacuum_diagnosis(row: pd.Series, state: AutovacuumState | None, now: datetime,
                     horizon_holder: str | None) -> str:
    """Why a table is overdue for vacuum, as far as the samples tell."""
    if not bool(row["autovacuum_enabled"]):
        return ("autovacuum is off for this table (autovacuum_enabled = false): only a manual "
                "VACUUM or a wraparound vacuum will clean it")
    if state is not None and not (state.enabled and state.track_counts):
        return ("autovacuum is off on the server" if not state.enabled else
                "track_counts is off: autovacuum cannot see the dead rows")
    last = _latest(row.get("last_vacuum"), row.get("last_autovacuum"))
    naptime = state.naptime_seconds if state else 60.0
    if last is not None and (pd.Timestamp(now) - last).total_seconds() < 3 * naptime + 60:
        holder = f" ({horizon_holder})" if horizon_holder else ""
        return ("vacuumed moments ago, yet the dead rows remain: something holds the xmin "
                f"horizon back{holder}, so vacuum may not remove them")
    if state is not None and state.saturated:
        return (f"all {state.max_workers} autovacuum workers are busy: it waits its turn "
                "(raise autovacuum_max_workers, or lower cost limits elsewhere)")
    inserts, insert_threshold = _value(row, "n_ins_since_vacuum"), _value(row, "insert_threshold")
    by_inserts = (inserts is not None and insert_threshold is not None
                  and inserts > insert_threshold
                  and float(row["n_dead_tup"]) <= float(row["vacuum_threshold"]))
    trigger = (f"{inserts:,.0f} rows inserted since the last vacuum passed the insert trigger "
               f"({insert_threshold:,.0f}): a vacuum to set visibility and freeze is due"
               if by_inserts and inserts is not None and insert_threshold is not None
               else "past its trigger point")
    return (f"{trigger}; autovacuum should start on it within {format_seconds(naptime)} "
            "(autovacuum_naptime) unless workers stay busy")


def vacuum_table(tables: pd.DataFrame, state: AutovacuumState | None, now: datetime,
                 horizon_holder: str | None = None) -> pd.DataFrame:
    """Tracked tables past autovacuum's vacuum trigger, most overdue first, then the others
    with dead rows: dead rows and ratio, the trigger, how far past it, last vacuum, why."""
    columns = ["table", "dead rows", "dead ratio", "trigger at", "over by", "last vacuum",
               "autovacuum", "why"]  # over by: past the dead-row or the insert trigger
    if tables.empty:
        return pd.DataFrame(columns=columns)
    shown = tables[tables["needs_vacuum"].astype(bool) | (tables["n_dead_tup"] > 0)].copy()
    if shown.empty:
        return pd.DataFrame(columns=columns)
    over = shown["n_dead_tup"].astype("float64") - shown["vacuum_threshold"].astype("float64")
    if "insert_threshold" in shown and "n_ins_since_vacuum" in shown:
        over_inserts = (shown["n_ins_since_vacuum"].astype("float64")
                        - shown["insert_threshold"].astype("float64"))
        over = over.where(over >= over_inserts.fillna(-np.inf), over_inserts)
    out = pd.DataFrame({
        "table": _table_name(shown),
        "dead rows": shown["n_dead_tup"].astype("float64"),
        "dead ratio": shown["dead_tuple_ratio"].astype("float64"),
        "trigger at": shown["vacuum_threshold"].astype("float64").round(),
        "over by": over.where(over > 0, np.nan),
        "last vacuum": [_latest(a, b) for a, b in zip(shown["last_vacuum"],
                                                     shown["last_autovacuum"], strict=True)],
        "autovacuum": np.where(shown["autovacuum_enabled"].astype(bool), "on", "off (table)"),
        "why": [vacuum_diagnosis(row, state, now, horizon_holder) if bool(row["needs_vacuum"])
                else "below its trigger point" for _, row in shown.iterrows()],
        "_needs": shown["needs_vacuum"].astype(bool),
    })
    out = out.sort_values(["_needs", "over by", "dead rows"], ascending=[False, False, False],
                          na_position="last")
    return out.drop(columns="_needs").reset_index(drop=True)


def analyze_table(tables: pd.DataFrame) -> pd.DataFrame:
    """Tracked tables past autoanalyze's trigger or never analyzed: rows changed since the
    last analyze against the trigger, last analyze, why it matters."""
    columns = ["table", "changed since analyze", "trigger at", "over by", "last analyze", "why"]
    if tables.empty:
        return pd.DataFrame(columns=columns)
    shown = tables[tables["needs_analyze"].astype(bool)
                   | tables["never_analyzed"].astype(bool)].copy()
    if shown.empty:
        return pd.DataFrame(columns=columns)
    over = (shown["n_mod_since_analyze"].astype("float64")
            - shown["analyze_threshold"].astype("float64"))
    whys = []
    for _, row in shown.iterrows():
        if str(row["relkind"]) == "p":
            whys.append("partitioned table: autovacuum never analyzes it; run ANALYZE on it "
                        "for plans that span partitions")
        elif bool(row["never_analyzed"]) and not bool(row["needs_analyze"]):
            whys.append("never analyzed: the planner guesses its row counts and value "
                        "distribution")
        else:
            whys.append("statistics are stale: plans rely on row counts and distributions "
                        "from before these changes")
    out = pd.DataFrame({
        "table": _table_name(shown),
        "changed since analyze": shown["n_mod_since_analyze"].astype("float64"),
        "trigger at": shown["analyze_threshold"].astype("float64").round(),
        "over by": over.where(over > 0, np.nan),
        "last analyze": [_latest(a, b) for a, b in zip(shown["last_analyze"],
                                                      shown["last_autoanalyze"], strict=True)],
        "why": whys,
    }, columns=columns)
    return out.sort_values("over by", ascending=False, na_position="last").reset_index(drop=True)


def progress_table(progress: pd.DataFrame) -> pd.DataFrame:
    """Maintenance running at the newest sample: operation, relation, phase, progress."""
    columns = ["pid", "operation", "relation", "database", "phase", "progress", "running for",
               "started by"]
    if progress.empty or progress["pid"].isna().all():
        return pd.DataFrame(columns=columns)
    rows = progress[progress["pid"].notna()]
    started_by = np.where(rows["to_prevent_wraparound"].astype(bool),
                          "autovacuum (to prevent wraparound)",
                          np.where(rows["autovacuum"].astype(bool), "autovacuum", "a session"))
    return pd.DataFrame({
        "pid": rows["pid"].astype("int64"),
        "operation": rows["operation"].astype(str),
        "relation": rows["relation"].astype(str),
        "database": rows["datname"].astype(str),
        "phase": rows["phase"].astype(str),
        "progress": rows["percent_done"].astype("float64") / 100,
        "running for": rows["running_seconds"].map(format_seconds),
        "started by": started_by,
    }, columns=columns).sort_values("pid").reset_index(drop=True)


@dataclass(frozen=True)
class WraparoundText:
    datname: str
    xid_age: int
    fraction_of_stop: float
    headline: str  # time to emergency, or why there is no forecast
    detail: str
    confidence: str
    severity: str  # critical | warning | ok | unknown


def _days(days: float | None) -> str:
    if days is None:
        return "—"
    if days < 2:
        return f"{days * 24:.1f} hours"
    if days < 730:
        return f"{days:,.0f} days"
    return f"{days / 365:,.1f} years"


def wraparound_texts(forecast: pd.DataFrame) -> list[WraparoundText]:
    """Per database: how close to the stop limit, and when, at the measured rate."""
    texts = []
    for _, row in forecast.iterrows():
        age = int(row["xid_age"])
        fraction = age / XID_STOP_AGE
        status = str(row["status"])
        hours = _value(row, "history_hours")
        samples = int(_value(row, "samples") or 0)
        rate = _value(row, "xids_per_day")
        freeze = int(row["freeze_max_age"])
        past_freeze = (f"past autovacuum_freeze_max_age ({freeze:,}): anti-wraparound "
                       "autovacuum should be freezing it now" if age > freeze else
                       f"{freeze - age:,} XIDs before autovacuum forces a freeze")
        severity = ("critical" if fraction > 0.5 else "warning" if age > freeze else "ok")
        if status == "insufficient history":
            texts.append(WraparoundText(
                str(row["datname"]), age, fraction, "no forecast yet",
                f"{past_freeze}. The consumption rate needs at least 1 h and 10 samples of "
                f"history ({samples} samples so far).", "none: not enough history", severity))
            continue
        if status == "no consumption":
            texts.append(WraparoundText(str(row["datname"]), age, fraction, "not consuming",
                                        f"{past_freeze}. No XIDs were assigned in the last "
                                        f"{_hours(hours)}.", f"{samples} samples", severity))
            continue
        days = _value(row, "days_to_emergency")
        r2 = _value(row, "xid_r2")
        steady = ("steady" if r2 is not None and r2 >= 0.9 else "bursty"
                  if r2 is not None else "unknown")
        confidence = (f"rate {steady} (r² {r2:.2f}) over {_hours(hours)}, {samples} samples"
                      if r2 is not None else f"{samples} samples")
        horizon = HORIZON_FACTOR * (hours or 0) / 24
        if days is not None and days > horizon:
            headline = f"no emergency within {_days(horizon)}"
            when = (f"more than {_days(horizon)} away ({HORIZON_FACTOR}× the history behind "
                    "the rate: further is not a forecast)")
        else:
            headline = f"emergency in {_days(days)}"
            when = f"in {_days(days)}"
        if days is not None and days < 30:
            severity = "critical"
        texts.append(WraparoundText(
            str(row["datname"]), age, fraction, headline,
            f"{past_freeze}. At {rate or 0:,.0f} XIDs/day the stop limit is {when}, if "
            "nothing froze this database meanwhile.", confidence, severity))
    return texts


def _hours(hours: float | None) -> str:
    if hours is None:
        return "—"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


HORIZON_KINDS = {
    "transaction": "an open transaction or snapshot: end it (COMMIT/ROLLBACK, or terminate "
                   "the session from the Activity page)",
    "prepared transaction": "a forgotten two-phase transaction: COMMIT PREPARED or ROLLBACK "
                            "PREPARED it (it survives restarts)",
    "replication slot": "a slot whose consumer lags or is gone: catch it up, or drop the "
                        "slot if nothing will consume it",
    "standby feedback": "a standby's long query, through hot_standby_feedback: end it there",
}


def horizon_table(holders: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """What held the xmin horizon at the newest sample, oldest first, with what to do."""
    columns = ["holds it", "kind", "who", "database", "role", "xmin age", "held for",
               "what to do"]
    if holders.empty or holders["kind"].isna().all():
        return pd.DataFrame(columns=columns)
    rows = holders[holders["kind"].notna()].sort_values("xmin_age", ascending=False)
    who = []
    for _, row in rows.iterrows():
        kind = str(row["kind"])
        if kind == "transaction":
            who.append(f"pid {row['holder']} {row['application_name']} ({row['state']})")
        elif kind == "replication slot":
            catalog = ", catalog only" if bool(row["catalog_only"]) else ""
            who.append(f"slot {row['holder']} ({row['state']}{catalog})")
        elif kind == "prepared transaction":
            who.append(f"gid {row['holder']}")
        else:
            who.append(f"standby {row['application_name']}")
    return pd.DataFrame({
        "holds it": np.where(rows["holds_horizon"].astype(bool), "yes", ""),
        "kind": rows["kind"].astype(str),
        "who": who,
        "database": rows["datname"].astype(str),
        "role": rows["usename"].astype(str),
        "xmin age": rows["xmin_age"].astype("float64"),
        "held for": rows["held_seconds"].map(format_seconds),
        "what to do": rows["kind"].map(lambda k: HORIZON_KINDS.get(str(k), "")),
    }, columns=columns).reset_index(drop=True)


def horizon_holder_label(holders: pd.DataFrame) -> str | None:
    """The row that holds the horizon, in a few words (for diagnoses), or None."""
    if holders.empty or "holds_horizon" not in holders:
        return None
    top = holders[holders["holds_horizon"].fillna(False).astype(bool)]
    if top.empty:
        return None
    row = top.iloc[0]
    return f"{row['kind']} {row['holder']}, xmin age {int(row['xmin_age']):,}"


def bloat_confidence(row: pd.Series) -> str:
    """How sure a bloat estimate is, from what it rests on."""
    if isinstance(row.get("suppressed_reason"), str):
        return "not estimated"
    reltuples = _value(row, "reltuples") or 0
    modified = _value(row, "modified_since_analyze") or 0
    stale = modified / reltuples if reltuples > 0 else 1.0
    ratio = _value(row, "bloat_ratio") or 0
    if stale > 0.2:
        return "low: statistics predate many changes"
    if ratio < 0.2:
        return "within the estimate's margin (±20 %)"
    if row.get("width_source") == "column types":
        return "high: fixed-width columns"
    return "medium: average widths from pg_stats"


def bloat_table(estimates: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Estimated bloat, largest first, then the relations not estimated and why; with the
    newest exact measurement of each where one was taken."""
    columns = ["relation", "kind", "size", "estimated bloat", "bloat ratio", "how sure",
               "exact (latest)", "not estimated because"]
    if estimates.empty or estimates["relname"].isna().all():
        return pd.DataFrame(columns=columns)
    rows = estimates[estimates["relname"].notna()].copy()
    exact = {}
    if not measured.empty:
        ok = measured[measured["outcome"] == "measured"].sort_values("measured_at")
        for _, m in ok.iterrows():
            key = f"{m['schemaname']}.{m['relname']}"
            if str(m["kind"]) == "index":
                exact[key] = f"leaf pages {float(m['leaf_density']):.0f} % full"
            else:
                exact[key] = (f"{float(m['dead_percent']):.1f} % dead, "
                              f"{float(m['free_percent']):.1f} % free")
    names = _table_name(rows)
    out = pd.DataFrame({
        "relation": names,
        "kind": rows["kind"].astype(str),
        "size": rows["relation_bytes"].astype("float64"),
        "estimated bloat": rows["bloat_bytes"].astype("float64"),
        "bloat ratio": rows["bloat_ratio"].astype("float64"),
        "how sure": [bloat_confidence(r) for _, r in rows.iterrows()],
        "exact (latest)": names.map(lambda n: exact.get(n, "")),
        "not estimated because": rows["suppressed_reason"].fillna(""),
    }, columns=columns)
    return out.sort_values(["estimated bloat", "size"], ascending=False,
                           na_position="last").reset_index(drop=True)
