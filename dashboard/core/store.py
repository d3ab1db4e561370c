"""Cached, read-only reads from the metrics store (schema kasho_ops) for the pages.

Every query uses bound parameters and runs on a short-lived session named
'kasho-ops-dashboard' that is read-only, in UTC, and bounded by statement_timeout. Results
are cached per (store, target, window) for CACHE_TTL_SECONDS; a store error is never cached
and reaches the page as one redacted StoreUnavailable line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import psycopg
import streamlit as st
from psycopg import sql

from collectors.core.config import Config
from collectors.core.connections import TrackedConnection, describe_error
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds
from collectors.core.errors import NoAnswer, StoreUnavailable
from collectors.core.redact import Secret, redact
from dashboard.core.context import PageContext
from dashboard.core.freshness import FreshnessRow

APPLICATION_NAME = "kasho-ops-dashboard"
CACHE_TTL_SECONDS = 30
FRESHNESS_TTL_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 10000
READ_DEADLINE_SECONDS = deadline_seconds(STATEMENT_TIMEOUT_MS)
SESSION_OPTIONS = (f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout=1000 "
                   "-c idle_in_transaction_session_timeout=30000 "
                   "-c default_transaction_read_only=on -c timezone=UTC")


def _secret_fingerprint(secret: Secret) -> str:
    # The cache key must tell stores apart without holding the DSN itself.
    return hashlib.sha256(secret.reveal().encode()).hexdigest()


cached_read = st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False,
                        hash_funcs={Secret: _secret_fingerprint})


def connect(dsn: Secret) -> psycopg.Connection[Any]:
    """A read-only, bounded store session; our settings win over the DSN's (raises
    psycopg.Error, or NoAnswer if the store does not answer within the connect timeout)."""
    return connect_within(dsn.reveal(), connection_class=TrackedConnection,
                          application_name=APPLICATION_NAME,
                          connect_timeout=CONNECT_TIMEOUT_SECONDS, options=SESSION_OPTIONS,
                          autocommit=True)


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
    """SQL for the start of the %(bucket)s-second bucket that `column` falls in."""
    return sql.SQL("to_timestamp(floor(extract(epoch FROM {}) / %(bucket)s) * %(bucket)s)"
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
    """One store session for several reads (a page's reads share one connection instead of
    paying a connection each): yields `read(query, params) -> DataFrame`."""
    try:
        with connect(dsn) as conn:
            yield lambda query, params: _frame(conn, query, params)
    except NoAnswer as exc:
        raise StoreUnavailable(f"Cannot read the metrics store ({redact(dsn.reveal())}): "
                               f"{exc}.") from None
    except psycopg.Error as exc:
        raise store_error(exc, dsn) from None


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
               hash_funcs={Secret: _secret_fingerprint})
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


def store_label(config: Config) -> str:
    """The store DSN as people may see it (password masked)."""
    return config.store.display_dsn


def _datetime(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    converted: datetime = pd.Timestamp(value).to_pydatetime()
    return converted
