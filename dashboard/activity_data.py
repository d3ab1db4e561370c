"""Reads for the Connections, Activity and Locks pages: cached reads from the store (same
session rules and caching as data.py; time series are averaged, or maxed for ages and
waits, into buckets of `bucket` seconds), the DBA action audit trail, and the Activity
page's live read of the monitored server through one shared LiveActivity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st
from psycopg import sql

from collectors.activity import ActivitySnapshot, LiveActivity
from collectors.config import CollectorSettings, Config
from collectors.redact import Secret
from dashboard.data import cached_read, read_frame

# The connections group's dimensions a person can break the count down by.
BREAKDOWNS: dict[str, str] = {
    "state": "state",
    "application": "application_name",
    "role": "usename",
    "database": "datname",
    "client address": "client_addr",
}


def _bucket(column: str) -> str:
    return (f"to_timestamp((floor(extract(epoch FROM {column}) / %(bucket)s) * %(bucket)s)"
            "::float8)")


def _params(target: str, start: datetime, end: datetime, bucket: int = 60) -> dict[str, Any]:
    return {"target": target, "start": start, "end": end, "bucket": bucket}


_WINDOW = "target = %(target)s AND collected_at > %(start)s AND collected_at <= %(end)s"


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
        ORDER BY 1, 2""").format(bucket=sql.SQL(_bucket("collected_at")), column=column,
                                 window=sql.SQL(_WINDOW))
    return read_frame(dsn, query.as_string(), _params(target, start, end, bucket))


@cached_read
def latest_limits(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The connection_limits group's last sample in the window (zero or one row), as read,
    not averaged into a bucket."""
    return read_frame(dsn, f"""
        SELECT collected_at, max_connections, reserved_connections, client_connections
        FROM kasho_ops.connection_limits WHERE {_WINDOW}
        ORDER BY collected_at DESC LIMIT 1""", _params(target, start, end))


@cached_read
def latest_connections(dsn: Secret, target: str, start: datetime,
                       end: datetime) -> pd.DataFrame:
    """The connections group's last sample in the window: collected_at, datname, usename,
    application_name, client_addr, state, connections, waiting_on_lock,
    longest_in_state_seconds."""
    return read_frame(dsn, f"""
        SELECT collected_at, datname, usename, application_name, client_addr, state,
               connections, waiting_on_lock, longest_in_state_seconds
        FROM kasho_ops.connections
        WHERE {_WINDOW}
          AND collected_at = (SELECT max(collected_at) FROM kasho_ops.connections
                              WHERE {_WINDOW})
        ORDER BY connections DESC, longest_in_state_seconds DESC""",
        _params(target, start, end))


@cached_read
def session_ages(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """collected_at, active, idle_in_transaction, waiting_on_lock (the bucket's largest
    per-sample totals over databases), longest_idle_in_transaction_seconds,
    longest_query_seconds, longest_transaction_seconds (the bucket's largest)."""
    return read_frame(dsn, f"""
        WITH per_sample AS (
            SELECT collected_at, sum(active) AS active,
                   sum(idle_in_transaction) AS idle_in_transaction,
                   sum(waiting_on_lock) AS waiting_on_lock,
                   max(longest_idle_in_transaction_seconds) AS idle_tx,
                   max(longest_query_seconds) AS query, max(longest_transaction_seconds) AS xact
            FROM kasho_ops.session_ages WHERE {_WINDOW}
            GROUP BY collected_at
        )
        SELECT {_bucket("collected_at")} AS collected_at,
               max(active)::float8 AS active,
               max(idle_in_transaction)::float8 AS idle_in_transaction,
               max(waiting_on_lock)::float8 AS waiting_on_lock,
               max(idle_tx)::float8 AS longest_idle_in_transaction_seconds,
               max(query)::float8 AS longest_query_seconds,
               max(xact)::float8 AS longest_transaction_seconds
        FROM per_sample GROUP BY 1 ORDER BY 1""", _params(target, start, end, bucket))


@cached_read
def lock_history(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """collected_at, blocked_sessions, longest_wait_seconds: the bucket's largest. Every
    successful lock_waits run counts, so a run that found nobody waiting is a 0, and a gap
    means no collection."""
    return read_frame(dsn, f"""
        WITH runs AS (
            SELECT started_at FROM kasho_ops.collector_runs
            WHERE target = %(target)s AND metric_group = 'lock_waits' AND error IS NULL
              AND started_at > %(start)s AND started_at <= %(end)s
        ), per_sample AS (
            SELECT r.started_at, count(w.pid) AS blocked,
                   coalesce(max(w.wait_seconds), 0) AS longest
            FROM runs r
            LEFT JOIN kasho_ops.lock_waits w
              ON w.target = %(target)s AND w.collected_at = r.started_at
             AND w.collected_at > %(start)s AND w.collected_at <= %(end)s
            GROUP BY r.started_at
        )
        SELECT {_bucket("started_at")} AS collected_at,
               max(blocked)::float8 AS blocked_sessions,
               max(longest)::float8 AS longest_wait_seconds
        FROM per_sample GROUP BY 1 ORDER BY 1""", _params(target, start, end, bucket))


@cached_read
def lock_waits(dsn: Secret, target: str, start: datetime, end: datetime,
               limit: int = 1000) -> pd.DataFrame:
    """Every stored lock wait in the window, newest sample first, longest wait first."""
    return read_frame(dsn, f"""
        SELECT collected_at, pid, datname, usename, application_name, client_addr, locktype,
               mode, relation, blocking_pids, root_blocker_pid, chain_depth, wait_seconds,
               transaction_seconds, root_blocker_state, root_blocker_application_name,
               root_blocker_transaction_seconds
        FROM kasho_ops.lock_waits WHERE {_WINDOW}
        ORDER BY collected_at DESC, wait_seconds DESC
        LIMIT %(limit)s""", {**_params(target, start, end), "limit": limit})


@cached_read
def wait_events(dsn: Secret, target: str, start: datetime, end: datetime,
                bucket: int) -> pd.DataFrame:
    """collected_at, wait_event_type, sessions (mean active sessions per sample)."""
    return read_frame(dsn, f"""
        WITH per_sample AS (
            SELECT {_bucket("collected_at")} AS bucket, collected_at, wait_event_type,
                   sum(sessions) AS sessions
            FROM kasho_ops.wait_events WHERE {_WINDOW}
            GROUP BY collected_at, wait_event_type
        ), samples AS (
            SELECT {_bucket("started_at")} AS bucket, count(*) AS sample_count
            FROM kasho_ops.collector_runs
            WHERE target = %(target)s AND metric_group = 'wait_events' AND error IS NULL
              AND started_at > %(start)s AND started_at <= %(end)s
            GROUP BY 1
        )
        SELECT p.bucket AS collected_at, p.wait_event_type,
               sum(p.sessions)::float8 / greatest(max(s.sample_count), 1) AS sessions
        FROM per_sample p LEFT JOIN samples s USING (bucket)
        GROUP BY p.bucket, p.wait_event_type
        ORDER BY 1, 2""", _params(target, start, end, bucket))


@cached_read
def database_events(dsn: Secret, target: str, start: datetime, end: datetime,
                    bucket: int) -> pd.DataFrame:
    """collected_at, datname, deadlocks, xact_rollback, temp_files, temp_bytes, conflicts:
    per-interval deltas summed per bucket and database."""
    return read_frame(dsn, f"""
        SELECT {_bucket("collected_at")} AS collected_at, datname,
               sum(deadlocks)::float8 AS deadlocks, sum(xact_rollback)::float8 AS xact_rollback,
               sum(temp_files)::float8 AS temp_files, sum(temp_bytes)::float8 AS temp_bytes,
               sum(conflicts)::float8 AS conflicts
        FROM kasho_ops.database_stats WHERE {_WINDOW}
        GROUP BY 1, 2 ORDER BY 1, 2""", _params(target, start, end, bucket))


@cached_read
def prepared_transactions(dsn: Secret, target: str, start: datetime,
                          end: datetime) -> pd.DataFrame:
    """The last prepared_transactions sample in the window (zero or one row)."""
    return read_frame(dsn, f"""
        SELECT collected_at, max_prepared_transactions, prepared, oldest_seconds,
               oldest_datname
        FROM kasho_ops.prepared_transactions WHERE {_WINDOW}
        ORDER BY collected_at DESC LIMIT 1""", _params(target, start, end))


def recent_actions(dsn: Secret, target: str, limit: int = 20) -> pd.DataFrame:
    """The audit trail's latest rows for the target (never cached: an action just taken
    must show at once)."""
    return read_frame(dsn, """
        SELECT acted_at, actor, action, pid, outcome, error, usename, application_name,
               datname, query
        FROM kasho_ops.dba_actions WHERE target = %(target)s
        ORDER BY acted_at DESC, id DESC LIMIT %(limit)s""", {"target": target, "limit": limit})


# -- the live "now" read --------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _live_activity(statement_timeout_ms: int, lock_timeout_ms: int,
                   connect_timeout_seconds: int) -> LiveActivity:
    # One per process and set of limits: its pools are shared by every browser session.
    return LiveActivity(CollectorSettings(statement_timeout_ms=statement_timeout_ms,
                                          lock_timeout_ms=lock_timeout_ms,
                                          connect_timeout_seconds=connect_timeout_seconds))


def live_snapshot(config: Config, target_name: str) -> ActivitySnapshot:
    """The target's sessions now, read from the server itself (not the store); raises
    TargetUnavailable with a one-line reason."""
    settings = config.collector
    live = _live_activity(settings.statement_timeout_ms, settings.lock_timeout_ms,
                          settings.connect_timeout_seconds)
    return live.snapshot(config.target(target_name))
