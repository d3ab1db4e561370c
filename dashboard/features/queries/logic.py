"""Pure logic of the Queries page: ranking, derived per-statement figures, regressions,
load shape and SQL text formatting. DataFrames in, DataFrames or strings out; no Streamlit,
no I/O, so every rule here is unit-tested on its own.

A statement is (queryid, dbid, userid, toplevel), the key of pg_stat_statements. Per-interval
sums arrive from the store with the counter columns of kasho_ops.query_stats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from collectors.core.sqltext import Token, cut_at_word, statement_title, tokenize
from collectors.core.sqltext import one_line as sqltext_one_line

STATEMENT_KEY = ["queryid", "dbid", "userid", "toplevel"]
COUNTERS = ["calls", "total_exec_time_ms", "exec_time_squares_ms2", "plans",
            "total_plan_time_ms", "rows", "shared_blks_hit", "shared_blks_read",
            "shared_blks_dirtied", "shared_blks_written", "temp_blks_read", "temp_blks_written",
            "blk_read_time_ms", "blk_write_time_ms", "wal_records", "wal_bytes"]


@dataclass(frozen=True)
class RankMetric:
    label: str
    column: str  # a column of `statement_figures`
    help: str


RANK_METRICS: dict[str, RankMetric] = {
    "total_time": RankMetric("Total time", "total_exec_time_ms",
                             "execution time summed over every call: where the server's time went"),
    "mean_time": RankMetric("Mean time", "mean_exec_time_ms",
                            "average execution time of one call: what one user waits"),
    "calls": RankMetric("Calls", "calls", "how often the statement ran"),
    "rows": RankMetric("Rows", "rows", "rows returned or affected"),
    "io": RankMetric("I/O", "io_blocks",
                     "shared blocks read from outside the buffer cache, plus blocks written"),
    "temp": RankMetric("Temp", "temp_blocks",
                       "temporary-file blocks read and written: sorts and hashes spilling to disk"),
}
DEFAULT_RANK = "total_time"


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN where the denominator is 0."""
    return numerator.astype(float) / denominator.astype(float).replace(0, np.nan)


def statement_figures(totals: pd.DataFrame) -> pd.DataFrame:
    """Per-statement figures from summed counters: mean and stddev of execution time, rows
    per call, cache hit ratio, I/O and temp blocks, share of the total execution time.

    The share is of top-level statements only: nested ones (inside functions, with
    pg_stat_statements.track = all) are already counted in their caller's time.
    """
    out = totals.copy()
    if out.empty:
        for column in ("mean_exec_time_ms", "stddev_exec_time_ms", "rows_per_call",
                       "hit_ratio", "io_blocks", "temp_blocks", "time_share"):
            out[column] = pd.Series(dtype=float)
        return out
    calls = out["calls"]
    out["mean_exec_time_ms"] = _ratio(out["total_exec_time_ms"], calls)
    if "exec_time_squares_ms2" in out.columns:
        variance = _ratio(out["exec_time_squares_ms2"], calls) - out["mean_exec_time_ms"] ** 2
        out["stddev_exec_time_ms"] = np.sqrt(variance.clip(lower=0))
    else:
        out["stddev_exec_time_ms"] = np.nan
    out["rows_per_call"] = _ratio(out["rows"], calls)
    out["hit_ratio"] = _ratio(out["shared_blks_hit"],
                              out["shared_blks_hit"] + out["shared_blks_read"])
    out["io_blocks"] = (out["shared_blks_read"] + out["shared_blks_written"]).astype(float)
    out["temp_blocks"] = (out["temp_blks_read"] + out["temp_blks_written"]).astype(float)
    top_total = float(out.loc[out["toplevel"].astype(bool), "total_exec_time_ms"].sum())
    out["time_share"] = out["total_exec_time_ms"] / top_total if top_total > 0 else np.nan
    return out


def rank_statements(figures: pd.DataFrame, metric: str, limit: int,
                    databases: list[str] | None = None, roles: list[str] | None = None,
                    include_nested: bool = False) -> pd.DataFrame:
    """The `limit` statements with the highest `metric`, after the database/role filters.

    Ties break on total time, then queryid, so the order never flickers between reloads.
    """
    column = RANK_METRICS[metric].column
    chosen = figures
    if not include_nested:
        chosen = chosen[chosen["toplevel"].astype(bool)]
    if databases:
        chosen = chosen[chosen["datname"].isin(databases)]
    if roles:
        chosen = chosen[chosen["rolname"].isin(roles)]
    chosen = chosen[chosen[column].fillna(0) > 0]
    ordered = chosen.sort_values([column, "total_exec_time_ms", "queryid"],
                                 ascending=[False, False, True], kind="mergesort")
    return ordered.head(limit).reset_index(drop=True)


def with_previews(statements: pd.DataFrame, previews: pd.DataFrame) -> pd.DataFrame:
    """`statements` with the text preview (column query) of each (queryid, dbid, userid),
    and database and role names where they are missing; None where no text is stored."""
    text_key = ["queryid", "dbid", "userid"]
    merged = statements.drop(columns=["query"], errors="ignore").merge(
        previews.drop_duplicates(text_key), on=text_key, how="left", suffixes=("", "_text"))
    for name in ("datname", "rolname"):
        if f"{name}_text" in merged.columns:
            own = merged[name] if name in merged.columns else None
            merged[name] = merged[f"{name}_text"] if own is None else own.fillna(
                merged[f"{name}_text"])
            merged = merged.drop(columns=[f"{name}_text"])
    merged["query"] = merged["query"].astype(object).where(merged["query"].notna(), None)
    return merged


def interval_figures(series: pd.DataFrame, bucket_seconds: int,
                     end: datetime | None = None) -> pd.DataFrame:
    """Per-bucket rates and means for the detail charts.

    Columns in: bucket (its start) and the counters; a bucket lasts `bucket_seconds`, the
    last one only until `end`. Out adds: seconds, calls_per_second, mean_exec_time_ms,
    stddev_exec_time_ms, rows_per_call, hit_ratio, mean_plan_time_ms.
    """
    out = series.sort_values("bucket").reset_index(drop=True)
    seconds = pd.Series(float(bucket_seconds), index=out.index)
    if end is not None and not out.empty:
        elapsed = (pd.Timestamp(end) - pd.to_datetime(out["bucket"], utc=True)).dt.total_seconds()
        seconds = seconds.clip(upper=elapsed.clip(lower=1.0))
    out["seconds"] = seconds
    out["calls_per_second"] = _ratio(out["calls"], out["seconds"])
    out["mean_exec_time_ms"] = _ratio(out["total_exec_time_ms"], out["calls"])
    variance = _ratio(out["exec_time_squares_ms2"], out["calls"]) - out["mean_exec_time_ms"] ** 2
    out["stddev_exec_time_ms"] = np.sqrt(variance.clip(lower=0))
    out["rows_per_call"] = _ratio(out["rows"], out["calls"])
    out["hit_ratio"] = _ratio(out["shared_blks_hit"],
                              out["shared_blks_hit"] + out["shared_blks_read"])
    out["mean_plan_time_ms"] = _ratio(out["total_plan_time_ms"], out["plans"])
    return out


SPARKLINE_POINTS = 40  # the trend column is 80 px wide: more points draw nothing more
LOAD_SHAPE_BARS = 120  # bars per statement in the load-shape chart (about 1,050 px wide)


def sparkline_step(buckets: int, points: int = SPARKLINE_POINTS) -> int:
    """How many buckets one sparkline point merges."""
    return max(1, -(-buckets // points))


def sparkline_values(series: pd.DataFrame, buckets: list[pd.Timestamp], column: str,
                     keys: list[tuple[Any, ...]], points: int = SPARKLINE_POINTS
                     ) -> dict[tuple[Any, ...], list[float]]:
    """One list per statement key of `column` over the buckets (0 where it did not run),
    neighbouring buckets merged so that no list is longer than `points`. The browser
    formats every value of every row, so each one the column cannot show costs a page load.

    `column` is a counter or a derived figure of `statement_figures` (mean_exec_time_ms,
    io_blocks, temp_blocks), computed per merged bucket.
    """
    step = sparkline_step(len(buckets), points)
    slots = len(range(0, len(buckets), step))
    if series.empty:
        return {key: [0.0] * slots for key in keys}
    slot_of = {bucket: i // step for i, bucket in enumerate(buckets)}
    counters = series.columns.difference([*STATEMENT_KEY, "bucket"])
    summed = (series.assign(slot=series["bucket"].map(slot_of)).dropna(subset=["slot"])
              .groupby([*STATEMENT_KEY, "slot"])[counters].sum())
    summed = summed.assign(
        mean_exec_time_ms=_ratio(summed["total_exec_time_ms"], summed["calls"]).fillna(0.0),
        io_blocks=summed["shared_blks_read"] + summed["shared_blks_written"],
        temp_blocks=summed["temp_blks_read"] + summed["temp_blks_written"])
    wide = summed[column].astype(float).unstack("slot", fill_value=0.0).reindex(
        columns=range(slots), fill_value=0.0)
    out = {}
    for key in keys:
        out[key] = [float(v) for v in wide.loc[key]] if key in wide.index else [0.0] * slots
    return out


def visible_statements(totals: pd.DataFrame, show_own: bool) -> tuple[pd.DataFrame, int]:
    """The statements to rank (data.statement_totals, column `own`): ours left out unless
    shown; and how many were left out."""
    if totals.empty or show_own or "own" not in totals.columns:
        return totals, 0
    own = totals["own"].astype(bool)
    return totals[~own].reset_index(drop=True), int(own.sum())


def load_shape(by_statement: pd.DataFrame, totals: pd.DataFrame,
               labels: dict[tuple[Any, ...], str],
               hidden: pd.DataFrame | None = None) -> pd.DataFrame:
    """Total statement time per bucket, split into the given statements and "other".

    by_statement: bucket, the key columns, total_exec_time_ms (only the statements to show);
    totals: bucket, total_exec_time_ms (every top-level statement); hidden: bucket,
    total_exec_time_ms of statements left out (Kasho Ops' own), not counted in "other". Out:
    bucket, label, key (None for other), total_exec_time_ms; "other" never goes below zero.
    """
    if totals.empty:
        return pd.DataFrame(columns=["bucket", "label", "key", "total_exec_time_ms"])
    if hidden is not None and not hidden.empty:
        left_out = hidden.groupby("bucket")["total_exec_time_ms"].sum()
        totals = totals.assign(total_exec_time_ms=totals["total_exec_time_ms"].to_numpy()
                               - left_out.reindex(totals["bucket"]).fillna(0.0).to_numpy())
    frames = []
    shown = pd.Series(0.0, index=pd.Index(totals["bucket"]))
    for key, label in labels.items():
        mask = np.ones(len(by_statement), dtype=bool)
        for column, value in zip(STATEMENT_KEY, key, strict=True):
            mask &= (by_statement[column] == value).to_numpy()
        part = by_statement[mask].groupby("bucket")["total_exec_time_ms"].sum()
        part = part.reindex(totals["bucket"], fill_value=0.0)
        shown = shown.add(part, fill_value=0.0)
        frames.append(pd.DataFrame({"bucket": part.index, "label": label, "key": [key] * len(part),
                                    "total_exec_time_ms": part.to_numpy(dtype=float)}))
    other = (totals.set_index("bucket")["total_exec_time_ms"] - shown).clip(lower=0)
    frames.append(pd.DataFrame({"bucket": other.index, "label": "other statements",
                                "key": [None] * len(other),
                                "total_exec_time_ms": other.to_numpy(dtype=float)}))
    return pd.concat(frames, ignore_index=True)


def span_words(minutes: float) -> str:
    """What one bar or point spans: '6 min', '2 h', '1.5 h'."""
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"


def merged_bars(shape: pd.DataFrame, buckets: list[pd.Timestamp],
                bars: int = LOAD_SHAPE_BARS) -> pd.DataFrame:
    """A load_shape with neighbouring buckets summed so that no statement has more than
    `bars` bars, each at its first bucket's time. The browser draws every bar of every
    statement: past about 8 px per bar at full width, more bars draw nothing more."""
    step = sparkline_step(len(buckets), bars)
    if step == 1 or shape.empty:
        return shape
    first_of = {bucket: buckets[i - i % step] for i, bucket in enumerate(buckets)}
    merged = shape.assign(bucket=shape["bucket"].map(first_of).fillna(shape["bucket"]))
    return (merged.groupby(["label", "bucket"], sort=False, as_index=False)
            .agg(key=("key", "first"), total_exec_time_ms=("total_exec_time_ms", "sum"))
            [["bucket", "label", "key", "total_exec_time_ms"]])


# -- regressions ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RegressionRule:
    factor: float = 2.0  # recent mean / baseline mean at or above this is a regression
    min_calls: int = 50  # in each window: fewer calls say too little about the mean
    min_mean_ms: float = 1.0  # a statement getting slower below this matters to nobody


def recent_windows(hours: pd.DataFrame, rule: RegressionRule) -> pd.DataFrame:
    """One row per statement from its recent hours: the recent window starts at the first
    hour whose mean reaches rule.factor x the baseline mean (else at the first hour), so an
    hour before the slowdown does not dilute it.

    Columns in: hour, the key columns, baseline_calls, baseline_time_ms, calls,
    total_exec_time_ms (plus datname, rolname, query, kept). Out: the key columns, those
    extras, baseline_calls, baseline_time_ms, recent_calls, recent_time_ms, recent_from.
    """
    extras = [c for c in ("datname", "rolname", "query") if c in hours.columns]
    columns = [*STATEMENT_KEY, *extras, "baseline_calls", "baseline_time_ms", "recent_calls",
               "recent_time_ms", "recent_from"]
    if hours.empty:
        return pd.DataFrame(columns=columns)
    baseline_mean = _ratio(hours["baseline_time_ms"], hours["baseline_calls"])
    slow = _ratio(hours["total_exec_time_ms"], hours["calls"]) >= rule.factor * baseline_mean
    first_hour = hours.groupby(STATEMENT_KEY)["hour"].min()
    first_slow = hours[slow].groupby(STATEMENT_KEY)["hour"].min()
    since = first_slow.reindex(first_hour.index).fillna(first_hour).rename("recent_from")
    rows = hours.join(since, on=STATEMENT_KEY)
    rows = rows[rows["hour"] >= rows["recent_from"]]
    fixed = [*STATEMENT_KEY, *extras, "baseline_calls", "baseline_time_ms", "recent_from"]
    out = rows.groupby(STATEMENT_KEY, as_index=False, sort=False).agg(
        **{c: (c, "first") for c in fixed if c not in STATEMENT_KEY},
        recent_calls=("calls", "sum"), recent_time_ms=("total_exec_time_ms", "sum"))
    return out[columns].reset_index(drop=True)


def find_regressions(windows: pd.DataFrame, rule: RegressionRule) -> pd.DataFrame:
    """Statements whose recent mean execution time is `rule.factor` times their baseline mean.

    Columns in: the key columns, baseline_calls, baseline_time_ms, recent_calls,
    recent_time_ms (plus anything else, kept). Out adds baseline_mean_ms, recent_mean_ms,
    slowdown; only flagged rows, worst slowdown first.
    """
    out = windows.copy()
    out["baseline_mean_ms"] = _ratio(out["baseline_time_ms"], out["baseline_calls"])
    out["recent_mean_ms"] = _ratio(out["recent_time_ms"], out["recent_calls"])
    out["slowdown"] = _ratio(out["recent_mean_ms"], out["baseline_mean_ms"])
    flagged = out[(out["baseline_calls"] >= rule.min_calls)
                  & (out["recent_calls"] >= rule.min_calls)
                  & (out["recent_mean_ms"] >= rule.min_mean_ms)
                  & (out["slowdown"] >= rule.factor)]
    return flagged.sort_values(["slowdown", "queryid"], ascending=[False, True]).reset_index(
        drop=True)


def regression_onsets(recent_series: pd.DataFrame, regressions: pd.DataFrame,
                      rule: RegressionRule) -> pd.DataFrame:
    """When each regression began, and its mean since then, newest first.

    The onset is the start of the first recent bucket whose own mean reaches factor x the
    baseline mean; recent calls, mean and slowdown are recomputed from there on, at the
    buckets' resolution. recent_series columns: bucket, the key columns, calls,
    total_exec_time_ms.
    """
    out = regressions.copy()
    onsets = []
    for index, row in zip(out.index, out.itertuples(index=False), strict=True):
        key = tuple(getattr(row, c) for c in STATEMENT_KEY)
        mask = np.ones(len(recent_series), dtype=bool)
        for column, value in zip(STATEMENT_KEY, key, strict=True):
            mask &= (recent_series[column] == value).to_numpy()
        own = recent_series[mask].sort_values("bucket")
        means = _ratio(own["total_exec_time_ms"], own["calls"])
        slow = own[means >= rule.factor * row.baseline_mean_ms]
        if slow.empty:
            onsets.append(pd.NaT)
            continue
        since = slow["bucket"].iloc[0]
        onsets.append(since)
        after = own[own["bucket"] >= since]
        calls, time_ms = float(after["calls"].sum()), float(after["total_exec_time_ms"].sum())
        out.loc[index, ["recent_calls", "recent_time_ms", "recent_mean_ms"]] = [
            calls, time_ms, time_ms / calls]
        out.loc[index, "slowdown"] = time_ms / calls / row.baseline_mean_ms
    out["since"] = pd.to_datetime(pd.Series(onsets, index=out.index, dtype="object"), utc=True)
    return out.sort_values(["since", "slowdown"], ascending=[False, False],
                           na_position="last").reset_index(drop=True)


# -- SQL text -------------------------------------------------------------------------------
# Every reading of a statement text goes through the one SQL lexer (collectors/core/sqltext.py).

_CLAUSES = tuple(sorted((tuple(c.split()) for c in (
    "select", "from", "where", "group by", "having", "order by", "limit", "offset",
    "union all", "union", "intersect", "except", "values", "set", "returning", "on conflict",
    "insert into", "update", "delete from", "with", "left join", "right join", "full join",
    "inner join", "cross join", "join")), key=len, reverse=True))
_NOT_A_CLAUSE_AFTER = {"update": {"do", "for", "key"}, "set": {"update"}}


def pretty_sql(text: str) -> str:
    """Normalized statement text laid out one clause per line, AND/OR indented beneath,
    nested clauses indented by their parenthesis depth. Whitespace between tokens is
    collapsed; tokens themselves (strings, comments, names) are kept, so the text stays the
    same SQL."""
    tokens = tokenize(text.strip())
    pieces: list[str] = []
    depth, index, previous_word = 0, 0, ""

    def newline(indent: str) -> None:
        if pieces:
            pieces[-1] = pieces[-1].rstrip(" ")
            pieces.append(indent if pieces[-1].endswith("\n") else "\n" + indent)

    while index < len(tokens):
        token = tokens[index]
        if token.kind == "space":
            if pieces and not pieces[-1].endswith("\n"):
                pieces.append(" ")
        elif token.kind == "comment" and token.text.startswith("--"):
            pieces.append(token.text + "\n")
        elif token.text in ("(", ")"):
            depth = max(0, depth + (1 if token.text == "(" else -1))
            pieces.append(token.text)
        elif (clause := _clause_at(tokens, index, previous_word)) is not None:
            words, index = clause
            newline("  " * depth)
            pieces.append(" ".join(words).upper())
            previous_word = words[-1]
            continue
        elif token.word in ("and", "or"):
            newline("  " * depth + "  ")
            pieces.append(token.text.upper())
        else:
            pieces.append(token.text)
        if token.kind not in ("space", "comment"):
            previous_word = token.word
        index += 1
    return "".join(pieces).strip()


def _clause_at(tokens: list[Token], index: int,
               previous_word: str) -> tuple[tuple[str, ...], int] | None:
    """The clause keyword(s) starting at tokens[index] and the index after them, or None."""
    if tokens[index].kind != "identifier":
        return None
    for clause in _CLAUSES:
        position, matched = index, True
        for word in clause:
            while position < len(tokens) and tokens[position].kind == "space":
                position += 1
            if position >= len(tokens) or tokens[position].word != word:
                matched = False
                break
            position += 1
        if matched and previous_word not in _NOT_A_CLAUSE_AFTER.get(clause[0], set()):
            return clause, position
    return None


def one_line(text: str, limit: int = 140) -> str:
    """The statement on one line, cut at `limit` characters with an ellipsis, at a word."""
    return cut_at_word(sqltext_one_line(text), limit)


def baseline_note(first_at: datetime | None, baseline_from: datetime,
                  baseline_days: int) -> str | None:
    """Why regressions cannot be judged yet, or None when the history covers the baseline."""
    if first_at is not None and first_at <= baseline_from:
        return None
    since = (f"statement statistics since {first_at:%Y-%m-%d %H:%M} UTC"
             if first_at is not None else "no statement statistics yet")
    return (f"Not enough history yet ({since}): regressions compare the recent window with "
            f"the {baseline_days} whole days before it, from {baseline_from:%Y-%m-%d} on.")


def truncate_lines(text: str, max_lines: int) -> tuple[str, bool]:
    """The first `max_lines` lines, and whether anything was cut."""
    lines = text.splitlines()
    if len(lines) <= max_lines:
        return text, False
    return "\n".join([*lines[:max_lines], "…"]), True


def statement_label(query: str | None, queryid: int, limit: int = 48) -> str:
    """What a chart legend calls a statement: its sqlc name, else its first words."""
    if not query:
        return f"queryid {queryid}"
    return statement_title(query).short(limit)


def statement_summary(query: str | None, queryid: int, limit: int = 110) -> str:
    """What a table row calls a statement: its sqlc name leading its first words."""
    if not query:
        return f"queryid {queryid}"
    title = statement_title(query, limit)
    return cut_at_word(f"{title.name} · {title.words}", limit) if title.name else title.words


def filter_statements(statements: pd.DataFrame, search: str,
                      names: list[str] | None = None) -> pd.DataFrame:
    """The statements whose sqlc name is one of `names` (when given) and whose name or first
    words contain `search` (case-insensitive). Reads the text heading in column `heading`."""
    if not search.strip() and not names:
        return statements
    titles = [statement_title(str(h)) if isinstance(h, str) else None
              for h in statements["heading"]]
    keep = [t is not None and t.matches(search) and (not names or t.name in names)
            for t in titles]
    return statements[keep]


def statement_names(statements: pd.DataFrame) -> list[str]:
    """The sqlc names among the statements' text headings, sorted, once each."""
    names = {statement_title(h).name for h in statements["heading"] if isinstance(h, str)}
    return sorted(n for n in names if n)


def format_ms(value: float | None) -> str:
    """Milliseconds as a person reads them: 0.042 ms, 12.3 ms, 4.2 s, 3.1 min, 2.5 h."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value < 1:
        return f"{value:.3f} ms"
    if value < 1000:
        return f"{value:.1f} ms"
    if value < 60_000:
        return f"{value / 1000:.1f} s"
    if value < 3_600_000:
        return f"{value / 60_000:.1f} min"
    return f"{value / 3_600_000:.1f} h"


# -- tables ---------------------------------------------------------------------------------

TOP_COLUMNS = ["statement", "database", "role", "trend", "share", "total", "mean", "calls",
               "rows", "hit %", "I/O blocks", "temp blocks"]


def top_statements_table(top: pd.DataFrame, sparks: list[list[float]]) -> pd.DataFrame:
    """The top-statements table: who ran it right after the statement, so it stays in view;
    absent figures (no block access: no hit ratio) are None, shown as "—"."""
    if top.empty:
        return pd.DataFrame(columns=TOP_COLUMNS)
    return pd.DataFrame({
        "statement": [statement_summary(q if isinstance(q, str) else None, int(i), 110)
                      for q, i in zip(top["query"], top["queryid"], strict=True)],
        "database": top["datname"], "role": top["rolname"],
        "trend": sparks,
        "share": top["time_share"] * 100,
        "total": [format_ms(v) for v in top["total_exec_time_ms"]],
        "mean": [format_ms(v) for v in top["mean_exec_time_ms"]],
        "calls": top["calls"], "rows": top["rows"],
        "hit %": top["hit_ratio"] * 100,
        "I/O blocks": top["io_blocks"], "temp blocks": top["temp_blocks"],
    })[TOP_COLUMNS]


REGRESSION_COLUMNS = ["since", "statement", "database", "baseline mean", "recent mean",
                      "slower", "recent calls"]


def regressions_table(flagged: pd.DataFrame) -> pd.DataFrame:
    """Flagged regressions (regression_onsets with previews) for people, newest first."""
    if flagged.empty:
        return pd.DataFrame(columns=REGRESSION_COLUMNS)
    return pd.DataFrame({
        "since": flagged["since"].dt.tz_convert(None),
        "statement": [statement_summary(q if isinstance(q, str) else None, int(i), 90)
                      for q, i in zip(flagged["query"], flagged["queryid"], strict=True)],
        "database": flagged["datname"],
        "baseline mean": [format_ms(v) for v in flagged["baseline_mean_ms"]],
        "recent mean": [format_ms(v) for v in flagged["recent_mean_ms"]],
        "slower": flagged["slowdown"],
        "recent calls": flagged["recent_calls"],
    })[REGRESSION_COLUMNS]
