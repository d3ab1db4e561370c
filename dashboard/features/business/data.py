"""Business reads from the store: Kasho's transactions, status changes, pending backlog,
sign-ups and balances (the business groups' tables), and, for the correlation view, the
health series beside them. Amounts stay numeric: they arrive as Decimal, never float.

The incremental tables are keyed by the minute a transaction was created or changed, not by
when it was collected; a row of minute m is collected after m, so `collected_at > start`
only prunes partitions. `coverage` says which minutes the collector has read, so a minute
without rows inside it is a true zero, and one outside it is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.context import PageContext
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params
from dashboard.features.business import logic

MINUTE_WINDOW = sql.SQL("target = %(target)s AND minute >= %(start)s AND minute < %(end)s "
                        "AND collected_at > %(start)s")
# Statements that read or write Kasho's money tables, for the correlation view.
PAYMENT_TABLES = r"\m(transactions|accounts)\M"
TOP_PAYMENT_STATEMENTS = 4
# Kasho Ops' own statements (its collectors read transactions, its store has a column of that
# name) are not payments.
OWN_STATEMENTS = r"\mkasho_ops\M"


@cached_read
def transactions(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """bucket, event, transaction_type, status, currency, transactions, amount (Decimal),
    age_seconds_sum, age_seconds_max: business_transactions summed per bucket."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS bucket, event, transaction_type, status, currency,
               sum(transactions)::bigint AS transactions, sum(amount) AS amount,
               sum(age_seconds_sum)::float8 AS age_seconds_sum,
               max(age_seconds_max)::float8 AS age_seconds_max
        FROM kasho_ops.business_transactions
        WHERE {window}
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5""").format(bucket=time_bucket("minute"), window=MINUTE_WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def coverage(dsn: Secret, target: str, group: str, start: datetime,
             end: datetime) -> pd.DataFrame:
    """window_start, watermark of every window `group` read that overlaps (start, end)."""
    return read_frame(dsn, """
        SELECT window_start, watermark FROM kasho_ops.incremental_watermarks
        WHERE target = %(target)s AND metric_group = %(group)s
          AND watermark > %(start)s AND window_start < %(end)s AND collected_at > %(start)s
        ORDER BY window_start""", {"target": target, "group": group, "start": start,
                                   "end": end})


@cached_read
def pending(dsn: Secret, target: str, start: datetime, end: datetime,
            bucket: int) -> pd.DataFrame:
    """collected_at (bucket), currency, transaction_type, transactions, amount (Decimal),
    oldest_age_seconds: the latest sample of each bucket ('*' rows: all currencies)."""
    return read_frame(dsn, sql.SQL("""
        WITH samples AS (
            SELECT {bucket} AS bucket, max(collected_at) AS collected_at
            FROM kasho_ops.business_pending WHERE {window} GROUP BY 1
        )
        SELECT s.bucket AS collected_at, p.currency, p.transaction_type, p.transactions,
               p.amount, p.oldest_age_seconds
        FROM samples s JOIN kasho_ops.business_pending p
          ON p.target = %(target)s AND p.collected_at = s.collected_at
        ORDER BY 1, 2, 3""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def signups(dsn: Secret, target: str, start: datetime, end: datetime,
            bucket: int) -> pd.DataFrame:
    """bucket, entity ('user' or 'account'), account_type, created."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS bucket, entity, account_type, sum(created)::bigint AS created
        FROM kasho_ops.business_signups
        WHERE {window}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""").format(bucket=time_bucket("minute"),
                                                     window=MINUTE_WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def balances(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The latest business_balances sample in the window: collected_at, currency,
    account_type, accounts, total_balance, negative_accounts, negative_balance (Decimal)."""
    return read_frame(dsn, """
        SELECT collected_at, currency, account_type, accounts, total_balance,
               negative_accounts, negative_balance
        FROM kasho_ops.business_balances
        WHERE target = %(target)s AND collected_at = (
            SELECT max(collected_at) FROM kasho_ops.business_balances
            WHERE target = %(target)s AND collected_at > %(start)s AND collected_at <= %(end)s)
        ORDER BY currency, account_type""", {"target": target, "start": start, "end": end})


@cached_read
def created_count(dsn: Secret, target: str, start: datetime, end: datetime) -> int:
    """Transactions created in [start, end): the count behind a per-minute rate."""
    frame = read_frame(dsn, sql.SQL("""
        SELECT coalesce(sum(transactions), 0)::bigint AS created
        FROM kasho_ops.business_transactions
        WHERE {window} AND event IN ('created', 'created_changed')""").format(
            window=MINUTE_WINDOW),
        {"target": target, "start": start, "end": end})
    return int(frame["created"].iloc[0])


@cached_read
def payment_statements(dsn: Secret, target: str, start: datetime, end: datetime,
                       bucket: int) -> pd.DataFrame:
    """bucket, queryid, dbid, userid, query, calls, total_exec_time_ms of the top-level
    statements on transactions or accounts with the most time in the window (at most
    TOP_PAYMENT_STATEMENTS, Kasho Ops' own left out); hourly rollups when the buckets are
    hours or longer."""
    hourly = bucket >= 3600
    table = sql.Identifier("kasho_ops", "query_stats_hourly" if hourly else "query_stats")
    stamp = sql.Identifier("hour" if hourly else "collected_at")
    return read_frame(dsn, sql.SQL("""
        WITH top AS (
            SELECT s.queryid, s.dbid, s.userid, max(t.query) AS query
            FROM {table} s
            JOIN kasho_ops.query_texts t
              ON t.target = s.target AND t.queryid = s.queryid AND t.dbid = s.dbid
             AND t.userid = s.userid
            WHERE s.target = %(target)s AND s.{stamp} >= %(start)s AND s.{stamp} < %(end)s
              AND s.toplevel AND t.query ~* %(tables)s
              AND t.query NOT LIKE '/* kasho-ops */%%' AND t.query !~* %(own)s
            GROUP BY 1, 2, 3
            ORDER BY sum(s.total_exec_time_ms) DESC
            LIMIT %(top)s
        )
        SELECT {bucket} AS bucket, top.queryid, top.dbid, top.userid, top.query,
               sum(s.calls)::float8 AS calls, sum(s.total_exec_time_ms)::float8
                   AS total_exec_time_ms
        FROM {table} s JOIN top USING (queryid, dbid, userid)
        WHERE s.target = %(target)s AND s.{stamp} >= %(start)s AND s.{stamp} < %(end)s
          AND s.toplevel
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1""").format(
            table=table, stamp=stamp, bucket=time_bucket("hour" if hourly else "collected_at")),
        {**window_params(target, start, end, bucket), "tables": PAYMENT_TABLES,
         "own": OWN_STATEMENTS, "top": TOP_PAYMENT_STATEMENTS})


@dataclass(frozen=True)
class BusinessData:
    """Everything the Business page and the Overview's business tiles read."""

    bucket: int
    covered: pd.DatetimeIndex
    transactions: pd.DataFrame
    pending: pd.DataFrame
    signups: pd.DataFrame
    signups_covered: pd.DatetimeIndex
    balances: pd.DataFrame
    headline: logic.BusinessHeadline


def business(context: PageContext) -> BusinessData:
    """The business frames of the page's window, in `logic.business_bucket` buckets."""
    dsn, target = context.config.store.dsn, context.target
    bucket = logic.business_bucket(context.bucket_seconds)
    start, end = context.start, context.end
    covered = logic.covered_buckets(coverage(dsn, target, "business_transactions", start, end),
                                    start, end, bucket)
    frame = transactions(dsn, target, start, end, bucket)
    backlog = pending(dsn, target, start, end, bucket)
    return BusinessData(
        bucket=bucket, covered=covered, transactions=frame, pending=backlog,
        signups=signups(dsn, target, start, end, bucket),
        signups_covered=logic.covered_buckets(
            coverage(dsn, target, "business_signups", start, end), start, end, bucket),
        balances=balances(dsn, target, start, end),
        headline=logic.headline(frame, covered, _week_ago(context, covered, bucket), backlog,
                                bucket))


def _week_ago(context: PageContext, covered: pd.DatetimeIndex, bucket: int) -> int | None:
    """Transactions created in the headline's window a week earlier; None unless the
    collector read all of it."""
    window = logic.recent_window(covered, bucket)
    if window is None:
        return None
    start, end = (moment - timedelta(days=7) for moment in window)
    dsn, target = context.config.store.dsn, context.target
    read = logic.covered_buckets(coverage(dsn, target, "business_transactions", start, end),
                                 start, end, bucket)
    if len(read) < (end - start).total_seconds() // bucket:
        return None
    return created_count(dsn, target, start, end)
