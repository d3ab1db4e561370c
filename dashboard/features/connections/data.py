"""Connections page reads from the store (session rules and caching of dashboard/core/store.py):
connections by a chosen dimension with Kasho Ops' own apart, and session ages per bucket.
The latest limits and sessions are the shared reads of dashboard/core/store.py."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.own import OwnActivity
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params

# The connections group's dimensions a person can break the count down by.
BREAKDOWNS: dict[str, str] = {
    "state": "state",
    "application": "application_name",
    "role": "usename",
    "database": "datname",
    "client address": "client_addr",
}


@cached_read
def connections_by(dsn: Secret, target: str, start: datetime, end: datetime, bucket: int,
                   breakdown: str, own: OwnActivity) -> pd.DataFrame:
    """collected_at, series, own, connections: mean client backends per sample in each
    bucket, by one of BREAKDOWNS, ours apart."""
    column = sql.Identifier(BREAKDOWNS[breakdown])
    query = sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket, collected_at, {column} AS series, {own} AS own,
                   sum(connections) AS connections
            FROM kasho_ops.connections WHERE {window}
            GROUP BY collected_at, 3, 4
        ), samples AS (
            SELECT bucket, count(DISTINCT collected_at) AS sample_count
            FROM per_sample GROUP BY bucket
        )
        SELECT p.bucket AS collected_at, p.series, p.own,
               sum(p.connections)::float8 / s.sample_count AS connections
        FROM per_sample p JOIN samples s USING (bucket)
        GROUP BY p.bucket, p.series, p.own, s.sample_count
        ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), column=column,
                                 own=OwnActivity.session_sql(), window=WINDOW)
    return read_frame(dsn, query, {**window_params(target, start, end, bucket), **own.params()})


@cached_read
def session_ages(dsn: Secret, target: str, start: datetime, end: datetime, bucket: int,
                 hide_databases: tuple[str, ...] = ()) -> pd.DataFrame:
    """collected_at, active, idle_in_transaction, waiting_on_lock (the bucket's largest
    per-sample totals over databases), longest_idle_in_transaction_seconds,
    longest_query_seconds, longest_transaction_seconds (the bucket's largest)."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT collected_at, sum(active) AS active,
                   sum(idle_in_transaction) AS idle_in_transaction,
                   sum(waiting_on_lock) AS waiting_on_lock,
                   max(longest_idle_in_transaction_seconds) AS idle_tx,
                   max(longest_query_seconds) AS query, max(longest_transaction_seconds) AS xact
            FROM kasho_ops.session_ages
            WHERE {window} AND NOT datname = ANY(%(hide_databases)s::text[])
            GROUP BY collected_at
        )
        SELECT {bucket} AS collected_at,
               max(active)::float8 AS active,
               max(idle_in_transaction)::float8 AS idle_in_transaction,
               max(waiting_on_lock)::float8 AS waiting_on_lock,
               max(idle_tx)::float8 AS longest_idle_in_transaction_seconds,
               max(query)::float8 AS longest_query_seconds,
               max(xact)::float8 AS longest_transaction_seconds
        FROM per_sample GROUP BY 1 ORDER BY 1""").format(
            bucket=time_bucket("collected_at"), window=WINDOW),
        {**window_params(target, start, end, bucket), "hide_databases": list(hide_databases)})
