"""Reads of the active_sessions store table: session-seconds per chart bucket by one
dimension, the latest interval's average, and the statements that were active the most."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.own import OwnActivity
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params

# What the chart can be broken down by: a label for people, the store column.
DIMENSIONS: dict[str, str] = {
    "wait event type": "wait_event_type",
    "wait event": "wait_event",
    "application": "application_name",
    "role": "usename",
    "database": "datname",
}
OWN = OwnActivity.session_sql()


@cached_read
def session_seconds(dsn: Secret, target: str, start: datetime, end: datetime, bucket: int,
                    dimension: str, own: OwnActivity) -> pd.DataFrame:
    """collected_at (bucket start), series, own, session_seconds: the active
    session-seconds (average active sessions x interval length) per bucket and value of
    `dimension`, ours and the application's apart."""
    column = sql.Identifier(DIMENSIONS[dimension])
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, {column} AS series, {own} AS own,
               sum(sessions * interval_seconds)::float8 AS session_seconds
        FROM kasho_ops.active_sessions WHERE {window}
        GROUP BY 1, 2, 3 ORDER BY 1, 2""").format(
            bucket=time_bucket("collected_at"), column=column, own=OWN, window=WINDOW),
        {**window_params(target, start, end, bucket), **own.params()})


@cached_read
def interval_average(dsn: Secret, target: str, collected_at: datetime,
                     own: OwnActivity) -> pd.DataFrame:
    """own, sessions: the average active sessions of one stored interval, ours apart."""
    return read_frame(dsn, sql.SQL("""
        SELECT {own} AS own, sum(sessions)::float8 AS sessions
        FROM kasho_ops.active_sessions
        WHERE target = %(target)s AND collected_at = %(at)s
        GROUP BY 1""").format(own=OWN), {"target": target, "at": collected_at, **own.params()})


@cached_read
def top_statements(dsn: Secret, target: str, start: datetime, end: datetime,
                   own: OwnActivity, limit: int = 50) -> pd.DataFrame:
    """Per statement (queryid, database, role) over the window: active session-seconds,
    the share spent in each wait event type, the statement's text preview when stored, and
    whether it is ours."""
    return read_frame(dsn, sql.SQL("""
        WITH per_statement AS (
            SELECT queryid, datname, usename, wait_event_type,
                   sum(sessions * interval_seconds)::float8 AS session_seconds,
                   bool_or({own}) AS own_session
            FROM kasho_ops.active_sessions WHERE {window}
            GROUP BY 1, 2, 3, 4
        ), totals AS (
            SELECT queryid, datname, usename, sum(session_seconds) AS session_seconds,
                   bool_or(own_session) AS own_session,
                   jsonb_object_agg(wait_event_type, session_seconds) AS by_wait
            FROM per_statement GROUP BY 1, 2, 3
            ORDER BY 4 DESC LIMIT %(limit)s
        )
        SELECT t.queryid, t.datname, t.usename, t.session_seconds, t.by_wait::text AS by_wait,
               t.own_session, left(q.query, 300) AS query
        FROM totals t
        LEFT JOIN LATERAL (
            SELECT query FROM kasho_ops.query_texts q
            WHERE q.target = %(target)s AND q.queryid = t.queryid AND t.queryid <> 0
              AND q.datname = t.datname AND q.rolname = t.usename
            LIMIT 1) q ON true
        ORDER BY t.session_seconds DESC""").format(own=OWN, window=WINDOW),
        {**window_params(target, start, end), **own.params(), "limit": limit})
