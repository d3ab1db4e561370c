"""Locks page reads from the store: lock waits over time and every stored wait, active
sessions by wait event, per-database deadlocks/conflicts/rollbacks/temp files, prepared
transactions."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params


@cached_read
def lock_history(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """collected_at, blocked_sessions, longest_wait_seconds: the bucket's largest. Every
    successful lock_waits run counts, so a run that found nobody waiting is a 0, and a gap
    means no collection."""
    return read_frame(dsn, sql.SQL("""
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
        SELECT {run_bucket} AS collected_at,
               max(blocked)::float8 AS blocked_sessions,
               max(longest)::float8 AS longest_wait_seconds
        FROM per_sample GROUP BY 1 ORDER BY 1""").format(run_bucket=time_bucket("started_at")),
        window_params(target, start, end, bucket))


@cached_read
def lock_waits(dsn: Secret, target: str, start: datetime, end: datetime,
               limit: int = 1000) -> pd.DataFrame:
    """Every stored lock wait in the window, newest sample first, longest wait first."""
    return read_frame(dsn, sql.SQL("""
        SELECT collected_at, pid, datname, usename, application_name, client_addr, locktype,
               mode, relation, blocking_pids, root_blocker_pid, chain_depth, wait_seconds,
               transaction_seconds, root_blocker_state, root_blocker_application_name,
               root_blocker_transaction_seconds
        FROM kasho_ops.lock_waits WHERE {window}
        ORDER BY collected_at DESC, wait_seconds DESC
        LIMIT %(limit)s""").format(window=WINDOW),
        {**window_params(target, start, end), "limit": limit})


@cached_read
def wait_events(dsn: Secret, target: str, start: datetime, end: datetime,
                bucket: int) -> pd.DataFrame:
    """collected_at, wait_event_type, sessions (mean active sessions per sample)."""
    return read_frame(dsn, sql.SQL("""
        WITH per_sample AS (
            SELECT {bucket} AS bucket, collected_at, wait_event_type,
                   sum(sessions) AS sessions
            FROM kasho_ops.wait_events WHERE {window}
            GROUP BY collected_at, wait_event_type
        ), samples AS (
            SELECT {run_bucket} AS bucket, count(*) AS sample_count
            FROM kasho_ops.collector_runs
            WHERE target = %(target)s AND metric_group = 'wait_events' AND error IS NULL
              AND started_at > %(start)s AND started_at <= %(end)s
            GROUP BY 1
        )
        SELECT p.bucket AS collected_at, p.wait_event_type,
               sum(p.sessions)::float8 / greatest(max(s.sample_count), 1) AS sessions
        FROM per_sample p LEFT JOIN samples s USING (bucket)
        GROUP BY p.bucket, p.wait_event_type
        ORDER BY 1, 2""").format(
            bucket=time_bucket("collected_at"), run_bucket=time_bucket("started_at"),
            window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def database_events(dsn: Secret, target: str, start: datetime, end: datetime,
                    bucket: int) -> pd.DataFrame:
    """collected_at, datname, deadlocks, xact_rollback, temp_files, temp_bytes, conflicts:
    per-interval deltas summed per bucket and database."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, datname,
               sum(deadlocks)::float8 AS deadlocks, sum(xact_rollback)::float8 AS xact_rollback,
               sum(temp_files)::float8 AS temp_files, sum(temp_bytes)::float8 AS temp_bytes,
               sum(conflicts)::float8 AS conflicts
        FROM kasho_ops.database_stats WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def prepared_transactions(dsn: Secret, target: str, start: datetime,
                          end: datetime) -> pd.DataFrame:
    """The last prepared_transactions sample in the window (zero or one row)."""
    return read_frame(dsn, sql.SQL("""
        SELECT collected_at, max_prepared_transactions, prepared, oldest_seconds,
               oldest_datname
        FROM kasho_ops.prepared_transactions WHERE {window}
        ORDER BY collected_at DESC LIMIT 1""").format(window=WINDOW),
        window_params(target, start, end))
