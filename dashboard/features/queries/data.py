"""Cached reads of query statistics from the store for the Queries page.

Three rollups of kasho_ops.query_stats are kept current by a trigger on every write:
query_stats_hourly, query_stats_daily and query_load_hourly. Ranges of a day or more are
read in whole UTC hours (the window's start moves back to its hour) from the daily rows,
corrected by hourly rows at the edges (`rollup_segments`), so seven days cost about ten rows
per statement. Shorter ranges read per-interval rows, plus hourly rows for the whole hours
inside them. Same session rules and caching as dashboard/core/store.py.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.context import POINTS_PER_CHART
from dashboard.core.own import OwnActivity
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket
from dashboard.features.queries.logic import COUNTERS, STATEMENT_KEY

HOUR = 3600
DAY = timedelta(days=1)
LONG_RANGE = timedelta(hours=24)
PREVIEW_CHARS = 300
# What the ranking and the table need; the detail charts read every counter.
TOTAL_COLUMNS = ("calls", "total_exec_time_ms", "rows",
                 "shared_blks_hit", "shared_blks_read", "shared_blks_written", "temp_blks_read",
                 "temp_blks_written")
KeyTuple = tuple[int, int, int, bool]


def floor_hour(t: datetime) -> datetime:
    return datetime.fromtimestamp(math.floor(t.timestamp() / HOUR) * HOUR, tz=UTC)


def ceil_hour(t: datetime) -> datetime:
    return datetime.fromtimestamp(math.ceil(t.timestamp() / HOUR) * HOUR, tz=UTC)


def floor_day(t: datetime) -> datetime:
    return datetime(t.year, t.month, t.day, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """(start, end] of a page. `long`: read whole hours [hours_from, hours_to) from the
    rollups; else per-interval rows. `bucket` is the chart resolution in seconds."""

    start: datetime
    end: datetime
    hours_from: datetime
    hours_to: datetime
    bucket: int
    long: bool

    def params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "hours_from": self.hours_from,
                "hours_to": self.hours_to, "bucket": self.bucket}


def plan_window(start: datetime, end: datetime, interval_seconds: int = 60) -> Window:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    span = (end - start).total_seconds()
    bucket = max(interval_seconds, math.ceil(span / POINTS_PER_CHART / interval_seconds)
                 * interval_seconds)
    if end - start >= LONG_RANGE:
        return Window(start, end, floor_hour(start), ceil_hour(end),
                      math.ceil(bucket / HOUR) * HOUR, long=True)
    return Window(start, end, end, end, bucket, long=False)


@dataclass(frozen=True)
class Segment:
    """Rows of one rollup in [low, high), added (sign 1) or subtracted (sign -1)."""

    table: str
    time_column: str
    low: datetime
    high: datetime
    sign: int


def rollup_segments(low: datetime, high: datetime) -> tuple[Segment, ...]:
    """The hours [low, high) (hour-aligned) as daily rows plus or minus hourly rows.

    The first day's hours before `low` are subtracted, or, when that is more than half a
    day, added from `low` instead; the last day's hours from `high` on are subtracted (for
    a window ending now they hold nothing yet).
    """
    def hourly(a: datetime, b: datetime, sign: int) -> Segment:
        return Segment("query_stats_hourly", "hour", a, b, sign)

    first_day, last_day = floor_day(low), floor_day(high - timedelta(seconds=1))
    if first_day == last_day:
        return (hourly(low, high, 1),)
    segments = []
    days_from = first_day
    if low > first_day:
        if low - first_day <= timedelta(hours=12):
            segments.append(hourly(first_day, low, -1))
        else:
            days_from = first_day + DAY
            segments.append(hourly(low, days_from, 1))
    segments.insert(0, Segment("query_stats_daily", "day", days_from, last_day + DAY, 1))
    if high < last_day + DAY:
        segments.append(hourly(high, last_day + DAY, -1))
    return tuple(segments)


def _segments_sql(segments: tuple[Segment, ...], columns: tuple[str, ...],
                  label: str = "") -> tuple[sql.Composable, dict[str, Any]]:
    """UNION ALL of the segments' rows: key columns and signed float8 counters."""
    parts, params = [], {}
    for i, seg in enumerate(segments):
        name = f"{label}s{i}"
        params[f"{name}_low"], params[f"{name}_high"] = seg.low, seg.high
        values = sql.SQL(", ").join(
            sql.SQL("{} * {}::float8 AS {}").format(sql.Literal(seg.sign), sql.Identifier(c),
                                                    sql.Identifier(c)) for c in columns)
        parts.append(sql.SQL(
            "SELECT queryid, dbid, userid, toplevel, {label} AS part, {values} "
            "FROM kasho_ops.{table} WHERE target = %(target)s AND {time} >= {low} "
            "AND {time} < {high}").format(
            label=sql.Literal(label), values=values, table=sql.Identifier(seg.table),
            time=sql.Identifier(seg.time_column), low=sql.Placeholder(f"{name}_low"),
            high=sql.Placeholder(f"{name}_high")))
    return sql.SQL(" UNION ALL ").join(parts), params


def _short_sql(window: Window, columns: tuple[str, ...], key_filter: bool = False,
               whole_hours: bool = True) -> tuple[sql.Composable, dict[str, Any]]:
    """(start, end] of a short window: whole hours from the hourly rollup (unless a chart
    needs finer buckets), the rest per interval."""
    first, last = ceil_hour(window.start), floor_hour(window.end)
    if first >= last or not whole_hours:
        first = last = window.end
    values = sql.SQL(", ").join(sql.SQL("{}::float8 AS {}").format(sql.Identifier(c),
                                                                   sql.Identifier(c))
                                for c in columns)
    keys = sql.SQL(_KEY_FILTER if key_filter else "")
    query = sql.SQL("""
        SELECT hour AS ts, queryid, dbid, userid, toplevel, {values}
        FROM kasho_ops.query_stats_hourly
        WHERE target = %(target)s AND hour >= %(first)s AND hour < %(last)s {keys}
        UNION ALL
        SELECT collected_at AS ts, queryid, dbid, userid, toplevel, {values}
        FROM kasho_ops.query_stats
        WHERE target = %(target)s
          AND ((collected_at > %(start)s AND collected_at < %(first)s)
               OR (collected_at >= %(last)s AND collected_at <= %(end)s)) {keys}""").format(
        values=values, keys=keys)
    return query, {"first": first, "last": last, "start": window.start, "end": window.end}


_KEY_FILTER = """
      AND queryid = ANY(%(queryids)s)
      AND (queryid, dbid, userid, toplevel) IN (
          SELECT * FROM unnest(%(queryids)s::bigint[], %(dbids)s::bigint[],
                               %(userids)s::bigint[], %(toplevels)s::boolean[]))"""


def _key_params(keys: tuple[KeyTuple, ...]) -> dict[str, Any]:
    return {"queryids": [k[0] for k in keys], "dbids": [k[1] for k in keys],
            "userids": [k[2] for k in keys], "toplevels": [k[3] for k in keys]}


def _sums(columns: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(sql.SQL("sum({c}) AS {c}").format(c=sql.Identifier(c))
                              for c in columns)


# Names, whether the statement is Kasho Ops' own, and each text's first 300 characters (where
# a sqlc name sits, for the search); full texts are fetched for the few statements shown
# (statement_previews).
_WITH_NAMES = sql.SQL("""
        SELECT s.*, coalesce(t.datname, s.dbid::text) AS datname,
               coalesce(t.rolname, s.userid::text) AS rolname, {own} AS own,
               left(t.query, 300) AS heading
        FROM sums s
        LEFT JOIN kasho_ops.query_texts t
          ON t.target = %(target)s AND t.queryid = s.queryid AND t.dbid = s.dbid
         AND t.userid = s.userid""").format(own=OwnActivity.statement_sql(table="t"))
_OWN_KEYS = sql.SQL("""
        SELECT queryid, dbid, userid FROM kasho_ops.query_texts t
        WHERE t.target = %(target)s AND {own}""").format(
    own=OwnActivity.statement_sql(table="t"))


def statement_totals(dsn: Secret, target: str, window: Window,
                     own: OwnActivity) -> pd.DataFrame:
    """Per statement over the window: TOTAL_COLUMNS summed, database and role names, and
    `own` (Kasho Ops' own statement)."""
    if window.long:
        source, params = _segments_sql(rollup_segments(window.hours_from, window.hours_to),
                                       TOTAL_COLUMNS)
    else:
        source, params = _short_sql(window, TOTAL_COLUMNS)
    query = sql.SQL("""
        WITH sums AS (
            SELECT queryid, dbid, userid, toplevel, {sums}
            FROM ({source}) src
            GROUP BY queryid, dbid, userid, toplevel
            HAVING sum(calls) > 0.5
        )""").format(sums=_sums(TOTAL_COLUMNS), source=source) + _WITH_NAMES
    return read_frame(dsn, query, {"target": target, **params, **own.params()})


SPARKLINE_COLUMNS = ("calls", "total_exec_time_ms", "rows", "shared_blks_read",
                     "shared_blks_written", "temp_blks_read", "temp_blks_written")


@cached_read
def statement_series(dsn: Secret, target: str, window: Window, keys: tuple[KeyTuple, ...],
                     columns: tuple[str, ...] = tuple(COUNTERS)) -> pd.DataFrame:
    """bucket, key columns, `columns` summed per bucket, for the given statements."""
    if not keys:
        return pd.DataFrame(columns=["bucket", *STATEMENT_KEY, *columns])
    if window.long:  # whole hours from the hourly rollup
        window = Window(window.hours_from, window.hours_to, window.hours_from,
                        window.hours_to, window.bucket, long=False)
        source, params = _short_sql(window, columns, key_filter=True)
    else:
        source, params = _short_sql(window, columns, key_filter=True,
                                    whole_hours=window.bucket % HOUR == 0)
    query = sql.SQL("""
        SELECT {bucket} AS bucket, queryid, dbid, userid, toplevel, {sums}
        FROM ({source}) src
        GROUP BY 1, queryid, dbid, userid, toplevel
        ORDER BY 1""").format(bucket=time_bucket("ts"), sums=_sums(columns), source=source)
    return read_frame(dsn, query, {"target": target, "bucket": window.bucket,
                              **params, **_key_params(keys)})


def own_load(dsn: Secret, target: str, window: Window, own: OwnActivity) -> pd.DataFrame:
    """bucket, total_exec_time_ms of Kasho Ops' own top-level statements per bucket (the
    part of load_totals a page hides)."""
    if window.long:
        return read_frame(dsn, sql.SQL("""
            WITH own AS ({own_keys})
            SELECT {bucket} AS bucket, sum(total_exec_time_ms) AS total_exec_time_ms
            FROM kasho_ops.query_stats_hourly JOIN own USING (queryid, dbid, userid)
            WHERE target = %(target)s AND hour >= %(hours_from)s AND hour < %(hours_to)s
              AND toplevel
            GROUP BY 1 ORDER BY 1""").format(own_keys=_OWN_KEYS, bucket=time_bucket("hour")),
            {"target": target, **window.params(), **own.params()})
    return read_frame(dsn, sql.SQL("""
        WITH own AS ({own_keys})
        SELECT {bucket} AS bucket, sum(total_exec_time_ms) AS total_exec_time_ms
        FROM kasho_ops.query_stats JOIN own USING (queryid, dbid, userid)
        WHERE {window} AND toplevel
        GROUP BY 1 ORDER BY 1""").format(own_keys=_OWN_KEYS,
                                         bucket=time_bucket("collected_at"), window=WINDOW),
        {"target": target, **window.params(), **own.params()})


def load_totals(dsn: Secret, target: str, window: Window) -> pd.DataFrame:
    """bucket, total_exec_time_ms of every top-level statement per bucket."""
    if window.long:
        return read_frame(dsn, sql.SQL("""
            SELECT {bucket} AS bucket, sum(total_exec_time_ms) AS total_exec_time_ms
            FROM kasho_ops.query_load_hourly
            WHERE target = %(target)s AND hour >= %(hours_from)s AND hour < %(hours_to)s
            GROUP BY 1 ORDER BY 1""").format(bucket=time_bucket("hour")),
            {"target": target, **window.params()})
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS bucket, sum(total_exec_time_ms) AS total_exec_time_ms
        FROM kasho_ops.query_stats
        WHERE {window} AND toplevel
        GROUP BY 1 ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        {"target": target, **window.params()})


def evictions(dsn: Secret, target: str, start: datetime, end: datetime) -> int:
    """How many times pg_stat_statements evicted entries in (start, end]."""
    frame = read_frame(dsn, """
        SELECT coalesce(sum(dealloc), 0)::bigint AS dealloc FROM kasho_ops.query_stats_info
        WHERE target = %(target)s AND collected_at > %(start)s AND collected_at <= %(end)s""",
        {"target": target, "start": start, "end": end})
    return int(frame["dealloc"].iloc[0])


def baseline_start(recent_from: datetime, baseline_days: int) -> datetime:
    """The first day of the regression baseline (regression_hours reads from it)."""
    return floor_day(recent_from) - timedelta(days=baseline_days)


def recent_hours(end: datetime, recent: timedelta) -> datetime:
    """Start of the recent window of the regression rule, in whole UTC hours."""
    return floor_hour(end - recent)


def regression_hours(dsn: Secret, target: str, recent_from: datetime, end: datetime,
                     baseline_days: int, factor: float, min_calls: int) -> pd.DataFrame:
    """Each hour since `recent_from` (an hour boundary) of the statements that may have
    regressed: calls and execution time, with the statement's calls and time in its
    baseline, the `baseline_days` whole UTC days before the day of `recent_from` (daily rows
    only: a baseline needs no hour precision, and the recent window never overlaps it).

    Only statements with `min_calls` in the baseline and at least one recent hour at
    `factor` x the baseline mean come back: no window of hours can be that much slower
    otherwise, so logic.recent_windows decides on all the candidates.
    """
    baseline_to = floor_day(recent_from)
    query = """
        WITH recent AS (
            SELECT hour, queryid, dbid, userid, toplevel, calls::float8 AS calls,
                   total_exec_time_ms
            FROM kasho_ops.query_stats_hourly
            WHERE target = %(target)s AND hour >= %(recent_from)s AND hour < %(recent_to)s
        ), baseline AS (
            SELECT queryid, dbid, userid, toplevel, sum(calls)::float8 AS baseline_calls,
                   sum(total_exec_time_ms) AS baseline_time_ms
            FROM kasho_ops.query_stats_daily
            WHERE target = %(target)s AND day >= %(baseline_from)s AND day < %(baseline_to)s
              AND (queryid, dbid, userid, toplevel) IN (
                  SELECT queryid, dbid, userid, toplevel FROM recent)
            GROUP BY queryid, dbid, userid, toplevel
            HAVING sum(calls) >= %(min_calls)s
        ), candidates AS (
            SELECT DISTINCT b.*
            FROM baseline b JOIN recent r USING (queryid, dbid, userid, toplevel)
            WHERE r.calls > 0 AND r.total_exec_time_ms / r.calls
                  >= %(factor)s * b.baseline_time_ms / b.baseline_calls
        )
        SELECT r.*, c.baseline_calls, c.baseline_time_ms
        FROM recent r JOIN candidates c USING (queryid, dbid, userid, toplevel)"""
    return read_frame(dsn, query, {"target": target, "recent_from": recent_from,
                              "recent_to": ceil_hour(end), "baseline_to": baseline_to,
                              "baseline_from": baseline_to - timedelta(days=baseline_days),
                              "factor": factor, "min_calls": min_calls})


@cached_read
def statement_previews(dsn: Secret, target: str,
                       keys: tuple[tuple[int, int, int], ...]) -> pd.DataFrame:
    """queryid, dbid, userid, datname, rolname and the first PREVIEW_CHARS of the text of
    the given (queryid, dbid, userid)."""
    if not keys:
        return pd.DataFrame(columns=["queryid", "dbid", "userid", "datname", "rolname",
                                     "query"])
    return read_frame(dsn, """
        SELECT queryid, dbid, userid, datname, rolname, left(query, %(preview)s) AS query
        FROM kasho_ops.query_texts
        WHERE target = %(target)s AND queryid = ANY(%(queryids)s)
          AND (queryid, dbid, userid) IN (
              SELECT * FROM unnest(%(queryids)s::bigint[], %(dbids)s::bigint[],
                                   %(userids)s::bigint[]))""",
        {"target": target, "preview": PREVIEW_CHARS, "queryids": [k[0] for k in keys],
         "dbids": [k[1] for k in keys], "userids": [k[2] for k in keys]})


@cached_read
def statement_texts(dsn: Secret, target: str, queryid: int) -> pd.DataFrame:
    """Every (dbid, userid) that ran this queryid: names, first seen, full text."""
    return read_frame(dsn, """
        SELECT queryid, dbid, userid, datname, rolname, first_seen_at, query
        FROM kasho_ops.query_texts
        WHERE target = %(target)s AND queryid = %(queryid)s
        ORDER BY first_seen_at""", {"target": target, "queryid": queryid})


@cached_read
def statement_keys(dsn: Secret, target: str, queryid: int, window: Window) -> pd.DataFrame:
    """The statement keys of a queryid that have rows in the window."""
    return read_frame(dsn, """
        SELECT DISTINCT queryid, dbid, userid, toplevel FROM kasho_ops.query_stats_hourly
        WHERE target = %(target)s AND queryid = %(queryid)s
          AND hour >= %(from)s AND hour <= %(end)s""",
        {"target": target, "queryid": queryid, "from": floor_hour(window.start),
         "end": window.end})


@dataclass(frozen=True)
class OverviewReads:
    """Everything the Queries overview needs before it knows which statements to show."""

    totals: pd.DataFrame
    load: pd.DataFrame
    own_load: pd.DataFrame
    regression_hours: pd.DataFrame
    evictions: int


@cached_read
def overview_reads(dsn: Secret, target: str, window: Window, recent_from: datetime,
                   baseline_days: int, factor: float, min_calls: int,
                   own: OwnActivity) -> OverviewReads:
    """The overview's independent reads, run at once on their own sessions: the page waits
    for the slowest, not for their sum."""
    with ThreadPoolExecutor(max_workers=5, thread_name_prefix="kasho-ops-queries") as pool:
        totals = pool.submit(statement_totals, dsn, target, window, own)
        load = pool.submit(load_totals, dsn, target, window)
        mine = pool.submit(own_load, dsn, target, window, own)
        hours = pool.submit(regression_hours, dsn, target, recent_from, window.end,
                            baseline_days, factor, min_calls)
        evicted = pool.submit(evictions, dsn, target, window.start, window.end)
        return OverviewReads(totals.result(), load.result(), mine.result(), hours.result(),
                             evicted.result())
