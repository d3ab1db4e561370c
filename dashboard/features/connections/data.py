"""Connections page reads from the store (session rules and caching of dashboard/core/store.py):
connections by a chosen dimension, the latest limits and sessions, and session ages per
bucket."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
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
                   breakdown: str) -> pd.DataFrame:
    """collected_at, series, connections: mean client backends per sample in each bucket,
    by one of BREAKDOWNS."""
    column = sql.Identifier(BREAKDOWNS[breakdown])
    query = sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket, collected_at, {column} AS series,
                   sum(connections) AS connections
            FROM kasho_ops.connections WHERE {window}
            GROUP BY collected_at, {column}
        ), samples AS (
            SELECT bucket, count(DISTINCT collected_at) AS sample_count
            FROM per_sample GROUP BY bucket
        )
        SELECT p.bucket AS collected_at, p.series,
               sum(p.connections)::float8 / s.sample_count AS connections
        FROM per_sample p JOIN samples s USING (bucket)
        GROUP BY p.bucket, p.series, s.sample_count
        ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), column=column, window=WINDOW)
    return read_frame(dsn, query, window_params(target, start, end, bucket))


@cached_read
def latest_limits(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The connection_limits group's last sample in the window (zero or one row), as read,
    not averaged into a bucket."""
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


@cached_read
def session_ages(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
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
            FROM kasho_ops.session_ages WHERE {window}
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
        window_params(target, start, end, bucket))


# -- the live "now" read --------------------------------------------------------------------


