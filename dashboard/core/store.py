"""Cached, read-only reads from the metrics store (schema kasho_ops) for the pages.

Every query uses bound parameters and runs on a pooled session named 'kasho-ops-dashboard'
that is read-only, in UTC, and bounded by statement_timeout and by a client-side deadline
(`answer_within`, for a store that stops answering altogether); one small pool per store is
shared by every browser session of the process (a page's reads no longer pay a connection
each). Results are cached per (store, target, window) for CACHE_TTL_SECONDS and shared by
every session too; a store error is never cached and reaches the page as one redacted
StoreUnavailable line.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg
import streamlit as st
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from collectors.core.config import Config
from collectors.core.connections import TrackedConnection, describe_error
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds
from collectors.core.errors import NoAnswer, StoreUnavailable
from collectors.core.redact import Secret, redact
from dashboard.core.context import PageContext, chart_bucket_seconds, interval_of
from dashboard.core.freshness import FreshnessRow
from dashboard.core.timeseries import Collection, find_gaps, tolerance_seconds
from dashboard.core.utilization import Utilization, latest_utilization

APPLICATION_NAME = "kasho-ops-dashboard"
CACHE_TTL_SECONDS = 30
FRESHNESS_TTL_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 5
POOL_SIZE = 8
STATEMENT_TIMEOUT_MS = 10000
READ_DEADLINE_SECONDS = deadline_seconds(STATEMENT_TIMEOUT_MS)
SESSION_OPTIONS = (f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout=1000 "
                   "-c idle_in_transaction_session_timeout=30000 "
                   "-c default_transaction_read_only=on -c timezone=UTC")


def store_fingerprint(secret: Secret) -> str:
    """What tells stores apart in a cache key, without holding the DSN itself."""
    return hashlib.sha256(secret.reveal().encode()).hexdigest()


cached_read = st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False,
                        hash_funcs={Secret: store_fingerprint})


def connect(dsn: Secret) -> psycopg.Connection[Any]:
    """A read-only, bounded store session; our settings win over the DSN's (raises
    psycopg.Error, or NoAnswer if the store does not answer within the connect timeout)."""
    return connect_within(dsn.reveal(), connection_class=TrackedConnection,
                          application_name=APPLICATION_NAME,
                          connect_timeout=CONNECT_TIMEOUT_SECONDS, options=SESSION_OPTIONS,
                          autocommit=True)


_POOLS: dict[str, ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


def _pool(dsn: Secret) -> ConnectionPool:
    """The process's pool for this store (opened on first use, never more than POOL_SIZE)."""
    key = store_fingerprint(dsn)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = ConnectionPool(
                dsn.reveal(), connection_class=TrackedConnection, min_size=0,
                max_size=POOL_SIZE, max_idle=120.0,
                timeout=float(CONNECT_TIMEOUT_SECONDS), reconnect_timeout=30.0,
                name="kasho-ops-dashboard", check=ConnectionPool.check_connection,
                kwargs={"application_name": APPLICATION_NAME,
                        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                        "options": SESSION_OPTIONS, "autocommit": True},
                open=False)
            pool.open(wait=False)
            _POOLS[key] = pool
        return pool


def store_error(exc: psycopg.Error, dsn: Secret) -> StoreUnavailable:
    where = redact(dsn.reveal())
    if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.InvalidSchemaName):
        return StoreUnavailable(f"The metrics store ({where}) has no kasho_ops tables; run "
                                "`kasho-ops migrate up --set monitoring` against it.")
    return StoreUnavailable(f"Cannot read the metrics store ({where}): {describe_error(exc)}. "
                            "Check [store] dsn in the config or KASHO_OPS_STORE_DSN.")


# The window every time-series read filters on, and the one bucketing rule: a sample belongs
# to the bucket of width %(bucket)s seconds that starts at or before it (epoch-aligned).
WINDOW = sql.SQL("target = %(target)s AND collected_at > %(start)s AND collected_at <= %(end)s")


def time_bucket(column: str) -> sql.Composed:
    """SQL for the start of the %(bucket)s-second bucket that `column` falls in (buckets
    counted from the Unix epoch). date_bin does it in integer arithmetic: the
    to_timestamp(floor(extract(epoch ...))) it replaces computed in numeric (extract returns
    numeric since PostgreSQL 14), twice the CPU on a week of samples."""
    return sql.SQL("date_bin(make_interval(secs => %(bucket)s), {}, timestamptz 'epoch')"
                   ).format(sql.Identifier(column))


ALL_COLUMNS = sql.SQL("*")


# How far back "the newest sample" is looked for: older state is not "now" any more, and the
# bound keeps the read to the last few daily partitions.
LATEST_LOOKBACK = sql.SQL("%(end)s::timestamptz - interval '2 days'")


def latest_sample(table: str, columns: sql.Composable = ALL_COLUMNS) -> sql.Composed:
    """SQL for the rows of kasho_ops.<table>'s newest sample at or before %(end)s (within
    the two days before it) for %(target)s: the state "now" of a gauge group (pages show its
    collected_at). Two index probes on (target, collected_at)."""
    return sql.SQL("""
        SELECT {columns} FROM kasho_ops.{table}
        WHERE target = %(target)s AND collected_at > {lookback}
          AND collected_at = (SELECT max(collected_at) FROM kasho_ops.{table}
                              WHERE target = %(target)s AND collected_at <= %(end)s
                                AND collected_at > {lookback})"""
                   ).format(columns=columns, table=sql.Identifier(table),
                            lookback=LATEST_LOOKBACK)


def latest_run(table: str, metric_group: str) -> sql.Composed:
    """SQL for the rows written by `metric_group`'s newest successful run at or before
    %(end)s (within the two days before it) for %(target)s, with run_at: one row of NULLs
    (but run_at) when that run found nothing (no vacuum running, nobody holding the
    horizon), no row when it never ran. For groups whose empty answer is news;
    latest_sample would show an older, non-empty one."""
    return sql.SQL("""
        WITH run AS (
            SELECT max(started_at) AS run_at FROM kasho_ops.collector_runs
            WHERE target = %(target)s AND metric_group = {group} AND error IS NULL
              AND started_at <= %(end)s AND started_at > {lookback})
        SELECT run.run_at, t.* FROM run
        LEFT JOIN kasho_ops.{table} t ON t.target = %(target)s AND t.collected_at = run.run_at
                                     AND t.collected_at > {lookback}
        WHERE run.run_at IS NOT NULL""").format(group=sql.Literal(metric_group),
                                               table=sql.Identifier(table),
                                               lookback=LATEST_LOOKBACK)


def window_params(target: str, start: datetime, end: datetime,
                  bucket: int = 60) -> dict[str, Any]:
    """Parameters for WINDOW and time_bucket."""
    return {"target": target, "start": start, "end": end, "bucket": bucket}


Query = str | sql.SQL | sql.Composed


def read_frame(dsn: Secret, query: Query, params: dict[str, Any]) -> pd.DataFrame:
    with store_session(dsn) as read:
        return read(query, params)


def _frame(conn: psycopg.Connection[Any], query: Query, params: dict[str, Any]) -> pd.DataFrame:
    with answer_within(conn, READ_DEADLINE_SECONDS, "metrics store"):
        cursor = conn.execute(query, params)
        columns = [c.name for c in cursor.description or ()]
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=columns)


@contextmanager
def store_session(dsn: Secret) -> Iterator[Callable[[Query, dict[str, Any]], pd.DataFrame]]:
    """One pooled store session for several reads: yields `read(query, params) -> DataFrame`,
    each read within READ_DEADLINE_SECONDS (a connection the deadline abandoned is broken,
    and the pool discards it)."""
    try:
        with _pool(dsn).connection() as conn:
            yield lambda query, params: _frame(conn, query, params)
    except PoolTimeout:
        raise _unreachable(dsn) from None
    except NoAnswer as exc:
        raise StoreUnavailable(f"Cannot read the metrics store ({redact(dsn.reveal())}): "
                               f"{exc}.") from None
    except psycopg.Error as exc:
        raise store_error(exc, dsn) from None


def _unreachable(dsn: Secret) -> StoreUnavailable:
    """The pool could not hand out a session in time: one direct attempt says why."""
    try:
        with connect(dsn):
            pass
    except NoAnswer as exc:
        return StoreUnavailable(f"Cannot read the metrics store ({redact(dsn.reveal())}): "
                                f"{exc}.")
    except psycopg.Error as exc:
        return store_error(exc, dsn)
    return StoreUnavailable(f"The metrics store ({redact(dsn.reveal())}) answers, but no "
                            f"session was free within {CONNECT_TIMEOUT_SECONDS} s: the "
                            "dashboard is overloaded; reload in a moment.")


# The time-series reads average samples into buckets of %(bucket)s seconds (labelled by the
# bucket's start), so a chart has at most a few hundred points whatever the range.


@cached_read
def latest_rows(dsn: Secret, table: str, target: str, end: datetime) -> pd.DataFrame:
    """The rows of kasho_ops.<table>'s newest sample for the target at or before `end`
    (none when older than two days): a page's "now" at the end of its window."""
    return read_frame(dsn, latest_sample(table), {"target": target, "end": end})


@dataclass(frozen=True)
class FreshnessSnapshot:
    rows: tuple[FreshnessRow, ...]
    store_now: datetime  # the store's clock when read: ages are measured against it


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, show_spinner=False,
               hash_funcs={Secret: store_fingerprint})
def collection_freshness(dsn: Secret, target: str, groups: Sequence[str]) -> FreshnessSnapshot:
    """Latest run and latest success of each group (two index probes per group on
    collector_runs (target, metric_group, started_at DESC), not a scan of the history)."""
    frame = read_frame(dsn, """
        SELECT g.metric_group, last_run.started_at AS last_run_at,
               last_ok.started_at AS last_success_at, last_run.error AS last_error,
               now() AS store_now
        FROM unnest(%(groups)s::text[]) AS g(metric_group)
        LEFT JOIN LATERAL (
            SELECT r.started_at, r.error FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = g.metric_group
            ORDER BY r.started_at DESC LIMIT 1) last_run ON true
        LEFT JOIN LATERAL (
            SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = g.metric_group
              AND r.error IS NULL
            ORDER BY r.started_at DESC LIMIT 1) last_ok ON true""",
        {"groups": list(groups), "target": target})
    if frame.empty:
        return FreshnessSnapshot((), datetime.now(UTC))
    rows = tuple(FreshnessRow(r.metric_group, _datetime(r.last_run_at),
                              _datetime(r.last_success_at),
                              None if pd.isna(r.last_error) else str(r.last_error))
                 for r in frame.itertuples(index=False))
    return FreshnessSnapshot(rows, frame["store_now"].iloc[0].to_pydatetime())


def freshness_for(context: PageContext, groups: Sequence[str]) -> FreshnessSnapshot:
    return collection_freshness(context.config.store.dsn, context.target, tuple(groups))


@dataclass(frozen=True)
class SampleSpan:
    """The first and the latest successful collection of one group on one target."""

    metric_group: str
    first_at: datetime | None
    last_at: datetime | None


@st.cache_data(ttl=FRESHNESS_TTL_SECONDS, show_spinner=False,
               hash_funcs={Secret: store_fingerprint})
def sample_spans(dsn: Secret, target: str, groups: tuple[str, ...]) -> dict[str, SampleSpan]:
    """Each group's first and latest successful run (index probes per group, one at each end
    of collector_runs (target, metric_group, started_at DESC))."""
    frame = read_frame(dsn, """
        SELECT g.metric_group, first_run.started_at AS first_at, last_run.started_at AS last_at
        FROM unnest(%(groups)s::text[]) AS g(metric_group)
        LEFT JOIN LATERAL (
            SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = g.metric_group
              AND r.error IS NULL
            ORDER BY r.started_at LIMIT 1) first_run ON true
        LEFT JOIN LATERAL (
            SELECT r.started_at FROM kasho_ops.collector_runs r
            WHERE r.target = %(target)s AND r.metric_group = g.metric_group
              AND r.error IS NULL
            ORDER BY r.started_at DESC LIMIT 1) last_run ON true""",
        {"groups": list(groups), "target": target})
    return {r.metric_group: SampleSpan(r.metric_group, _datetime(r.first_at),
                                       _datetime(r.last_at))
            for r in frame.itertuples(index=False)}


def history_start(dsn: Secret, target: str, groups: Sequence[str]) -> datetime | None:
    """When the store's history of the target begins (its first successful collection)."""
    firsts = [span.first_at for span in sample_spans(dsn, target, tuple(groups)).values()
              if span.first_at is not None]
    return min(firsts) if firsts else None


def store_label(config: Config) -> str:
    """The store DSN as people may see it (password masked)."""
    return config.store.display_dsn


def _datetime(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    converted: datetime = pd.Timestamp(value).to_pydatetime()
    return converted


@cached_read
def collection_runs(dsn: Secret, target: str, group: str, start: datetime, end: datetime,
                    bucket: int, interval: int) -> pd.DataFrame:
    """The group's successful runs in (start, end] as the timeseries rule needs them, in
    one pass over collector_runs: kind 'gap' rows (a, b) are consecutive runs farther apart
    than the tolerance, the 'span' row the first and last run (from one tolerance before
    start), 'bucket' rows (a, n) how many runs each chart bucket holds."""
    tolerance = tolerance_seconds(interval)
    return read_frame(dsn, sql.SQL("""
        WITH runs AS (
            SELECT started_at FROM kasho_ops.collector_runs
            WHERE target = %(target)s AND metric_group = %(group)s AND error IS NULL
              AND started_at > %(lookback)s AND started_at <= %(end)s
        ), spaced AS (
            SELECT lag(started_at) OVER (ORDER BY started_at) AS previous, started_at
            FROM runs
        )
        SELECT 'gap' AS kind, previous AS a, started_at AS b, 0::bigint AS n FROM spaced
        WHERE started_at - previous > %(tolerance)s * interval '1 second'
        UNION ALL
        SELECT 'span', min(started_at), max(started_at), count(*) FROM runs
        UNION ALL
        SELECT 'bucket', {bucket}, NULL, count(*) FROM runs
        WHERE started_at > %(start)s GROUP BY 2""").format(bucket=time_bucket("started_at")),
        {"target": target, "group": group, "start": start, "end": end, "bucket": bucket,
         "lookback": start - timedelta(seconds=tolerance), "tolerance": tolerance})


def collection_for(context: PageContext, group: str, bucket: int | None = None) -> Collection:
    """What the collector did for `group` in the page's window, at the group's chart
    buckets (or `bucket`)."""
    return collection_in(context.config, context.target, group, context.start, context.end,
                         bucket or context.bucket_for(group))


def collection_in(config: Config, target: str, group: str, start: datetime, end: datetime,
                  bucket: int | None = None) -> Collection:
    """What the collector did for `group` on `target` in (start, end], at `bucket`-second
    chart buckets (by default the group's, for that span)."""
    interval = interval_of(config, group)
    bucket = bucket or chart_bucket_seconds((end - start).total_seconds(), interval)
    return _collection(config.store.dsn, target, group, start, end, bucket, interval)


# Shaping the runs into a Collection costs more than reading them: done once per inputs and
# shared (read-only), no longer than the spans it reads are cached.
@st.cache_resource(ttl=FRESHNESS_TTL_SECONDS, max_entries=512, show_spinner=False,
                   hash_funcs={Secret: store_fingerprint})
def _collection(dsn: Secret, target: str, group: str, start: datetime, end: datetime,
                bucket: int, interval: int) -> Collection:
    runs = collection_runs(dsn, target, group, start, end, bucket, interval)
    span = sample_spans(dsn, target, (group,)).get(group)
    now = min(end, datetime.now(UTC))
    spans = runs[runs["kind"] == "span"]
    first_run = _datetime(spans["a"].iloc[0]) if not spans.empty else None
    last_run = _datetime(spans["b"].iloc[0]) if not spans.empty else None
    spaced = [(_datetime(r.a), _datetime(r.b)) for r in runs[runs["kind"] == "gap"].itertuples()]
    first_at = span.first_at if span else None
    gaps = find_gaps([(a, b) for a, b in spaced if a and b], first_run, last_run,
                     start, now, interval, first_at)
    buckets = runs[runs["kind"] == "bucket"]
    counts = {pd.Timestamp(t).tz_convert("UTC"): int(n)
              for t, n in zip(pd.to_datetime(buckets["a"], utc=True), buckets["n"], strict=True)}
    return Collection(group=group, interval_seconds=interval, bucket_seconds=bucket,
                      start=start, end=end, now=now, run_counts=counts,
                      gaps=gaps, first_at=first_at, last_at=span.last_at if span else None)


# -- reads more than one page shows ----------------------------------------------------------

@cached_read
def latest_connection_limits(dsn: Secret, target: str, start: datetime,
                             end: datetime) -> pd.DataFrame:
    """The connection_limits group's last sample in the window (zero or one row), as read,
    not averaged into a bucket: every page's connections tile comes from it."""
    return read_frame(dsn, sql.SQL("""
        SELECT collected_at, max_connections, reserved_connections, client_connections
        FROM kasho_ops.connection_limits WHERE {window}
        ORDER BY collected_at DESC LIMIT 1""").format(window=WINDOW),
        window_params(target, start, end))


@cached_read
def latest_connections(dsn: Secret, target: str, start: datetime,
                       end: datetime) -> pd.DataFrame:
    """The connections group's last sample in the window: collected_at, datname, usename,
    application_name, client_addr, state, connections, waiting_on_lock,
    longest_in_state_seconds."""
    return read_frame(dsn, sql.SQL("""
        SELECT collected_at, datname, usename, application_name, client_addr, state,
               connections, waiting_on_lock, longest_in_state_seconds
        FROM kasho_ops.connections
        WHERE {window}
          AND collected_at = (SELECT max(collected_at) FROM kasho_ops.connections
                              WHERE {window})
        ORDER BY connections DESC, longest_in_state_seconds DESC""").format(window=WINDOW),
        window_params(target, start, end))


def connection_use(context: PageContext) -> tuple[Utilization | None, pd.DataFrame, int]:
    """The latest connections tile of every stored page: use against usable slots, the
    latest sample's sessions, and how many of them are Kasho Ops' own."""
    args = (context.config.store.dsn, context.target, context.start, context.end)
    utilization = latest_utilization(latest_connection_limits(*args))
    sessions = latest_connections(*args)
    own = context.own.own_mask(sessions, "usename", "datname", application="application_name")
    own_count = int(sessions.loc[own, "connections"].sum()) if not sessions.empty else 0
    return utilization, sessions.assign(own=own), own_count
