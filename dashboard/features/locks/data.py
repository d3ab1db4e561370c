"""Locks page reads from the store: lock waits over time and every stored wait (Kasho Ops'
own apart), per-database deadlocks/conflicts/rollbacks/temp files, prepared transactions.
Active sessions by wait event come from dashboard/features/active_sessions."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.own import OwnActivity
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params

OWN_WAIT = OwnActivity.session_sql()


@cached_read
def lock_history(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int, own: OwnActivity, show_own: bool) -> pd.DataFrame:
    """collected_at, blocked_sessions, longest_wait_seconds: the bucket's largest over the
    shown waits. Every successful lock_waits run counts, so a run that found nobody waiting
    is a 0, and a gap means no collection."""
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
             AND (%(show_own)s OR NOT {own})
            GROUP BY r.started_at
        )
        SELECT {run_bucket} AS collected_at,
               max(blocked)::float8 AS blocked_sessions,
               max(longest)::float8 AS longest_wait_seconds
        FROM per_sample GROUP BY 1 ORDER BY 1""").format(
            run_bucket=time_bucket("started_at"), own=OWN_WAIT),
        {**window_params(target, start, end, bucket), **own.params(), "show_own": show_own})


@cached_read
def lock_waits(dsn: Secret, target: str, start: datetime, end: datetime, own: OwnActivity,
               limit: int = 1000) -> pd.DataFrame:
    """Every stored lock wait in the window (`own`: Kasho Ops' own session waited), newest
    sample first, longest wait first."""
    return read_frame(dsn, sql.SQL("""
        SELECT collected_at, pid, datname, usename, application_name, client_addr, locktype,
               mode, relation, blocking_pids, root_blocker_pid, chain_depth, wait_seconds,
               transaction_seconds, root_blocker_state, root_blocker_application_name,
               root_blocker_transaction_seconds, {own} AS own
        FROM kasho_ops.lock_waits WHERE {window}
        ORDER BY collected_at DESC, wait_seconds DESC
        LIMIT %(limit)s""").format(own=OWN_WAIT, window=WINDOW),
        {**window_params(target, start, end), **own.params(), "limit": limit})


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
