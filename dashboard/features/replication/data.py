"""Replication page reads from the store: standbys and slots at the latest sample and over
time, and a standby's own replay history."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params


def _latest_of(table: str) -> sql.Composed:
    """Rows of the group's latest successful collection in the window (none found is an
    empty frame, not the sample before)."""
    return sql.SQL("""
        SELECT t.* FROM kasho_ops.{table} t
        WHERE t.target = %(target)s AND t.collected_at = (
            SELECT max(started_at) FROM kasho_ops.collector_runs
            WHERE target = %(target)s AND metric_group = {group} AND error IS NULL
              AND started_at > %(start)s AND started_at <= %(end)s)""").format(
        table=sql.Identifier(table), group=sql.Literal(table))


@cached_read
def latest_standbys(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    return read_frame(dsn, _latest_of("replication_standbys"), window_params(target, start, end))


@cached_read
def latest_slots(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    return read_frame(dsn, _latest_of("replication_slots"), window_params(target, start, end))


@cached_read
def standby_lag_history(dsn: Secret, target: str, start: datetime, end: datetime,
                        bucket: int) -> pd.DataFrame:
    """collected_at, standby (application name @ client), replay/flush/write lag bytes and
    replay lag seconds: the bucket's largest."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               application_name || ' @ ' || client_addr AS standby,
               max(replay_lag_bytes)::float8 AS replay_lag_bytes,
               max(flush_lag_bytes)::float8 AS flush_lag_bytes,
               max(write_lag_bytes)::float8 AS write_lag_bytes,
               max(replay_lag_seconds)::float8 AS replay_lag_seconds
        FROM kasho_ops.replication_standbys WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                              window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def slot_history(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """collected_at, slot_name, retained_wal_bytes (the bucket's largest), active (whether
    it was active at every sample of the bucket)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, slot_name,
               max(retained_wal_bytes)::float8 AS retained_wal_bytes,
               bool_and(active) AS active
        FROM kasho_ops.replication_slots WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                              window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def recovery_history(dsn: Secret, target: str, start: datetime, end: datetime,
                     bucket: int) -> pd.DataFrame:
    """collected_at, replay_delay_seconds, receive_replay_lag_bytes (the bucket's largest),
    in_recovery (at any sample of the bucket)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               max(replay_delay_seconds)::float8 AS replay_delay_seconds,
               max(receive_replay_lag_bytes)::float8 AS receive_replay_lag_bytes,
               bool_or(in_recovery) AS in_recovery
        FROM kasho_ops.recovery_status WHERE {window}
        GROUP BY 1 ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))
