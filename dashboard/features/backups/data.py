"""Backups page reads from the store: the latest pgBackRest stanza and its backups, WAL
archiving over time and now, restore drills, base backups streaming, and how far back the
store's history reaches."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import (
    WINDOW,
    cached_read,
    latest_rows,
    read_frame,
    time_bucket,
    window_params,
)


def latest_stanza(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest pgbackrest_stanzas row at or before `end` (zero or one row)."""
    return latest_rows(dsn, "pgbackrest_stanzas", target, end)


@cached_read
def backups_at(dsn: Secret, target: str, collected_at: datetime) -> pd.DataFrame:
    """Every backup the repository held at one collection, oldest first."""
    return read_frame(dsn, """
        SELECT label, backup_type, prior_label, start_time, stop_time, duration_seconds,
               database_size_bytes, backup_size_bytes, repo_size_bytes, repo_delta_bytes,
               wal_start, wal_stop, lsn_start, lsn_stop, error, references_count
        FROM kasho_ops.pgbackrest_backups
        WHERE target = %(target)s AND collected_at = %(at)s
        ORDER BY stop_time""", {"target": target, "at": collected_at})


@cached_read
def pgbackrest_error(dsn: Secret, target: str) -> str | None:
    """The error of the latest pgbackrest collection, if it failed."""
    frame = read_frame(dsn, """
        SELECT error FROM kasho_ops.collector_runs
        WHERE target = %(target)s AND metric_group = 'pgbackrest'
        ORDER BY started_at DESC LIMIT 1""", {"target": target})
    if frame.empty or pd.isna(frame["error"].iloc[0]):
        return None
    return str(frame["error"].iloc[0])


@cached_read
def archive_counts(dsn: Secret, target: str, start: datetime, end: datetime,
                   bucket: int) -> pd.DataFrame:
    """collected_at, archived, failed: WAL files archived and failed attempts per bucket."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at,
               sum(archived_count)::float8 AS archived, sum(failed_count)::float8 AS failed
        FROM kasho_ops.wal_archive_counts WHERE {window}
        GROUP BY 1 ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


@cached_read
def archive_backlog(dsn: Secret, target: str, start: datetime, end: datetime,
                    bucket: int) -> pd.DataFrame:
    """collected_at, ready_count (wal_archive_backlog), archive_lag_bytes (wal_archiving):
    each the bucket's largest."""
    return read_frame(dsn, sql.SQL("""
        WITH lag AS (
            SELECT {bucket} AS collected_at, max(archive_lag_bytes)::float8 AS archive_lag_bytes
            FROM kasho_ops.wal_archiving WHERE {window} GROUP BY 1
        ), ready AS (
            SELECT {bucket} AS collected_at, max(ready_count)::float8 AS ready_count
            FROM kasho_ops.wal_archive_backlog WHERE {window} GROUP BY 1
        )
        SELECT collected_at, ready.ready_count, lag.archive_lag_bytes
        FROM lag FULL JOIN ready USING (collected_at)
        ORDER BY 1""").format(bucket=time_bucket("collected_at"), window=WINDOW),
        window_params(target, start, end, bucket))


def latest_archiving(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest wal_archiving sample at or before `end` (zero or one row), with the
    newest .ready count of wal_archive_backlog (NULL when there is none)."""
    archiving = latest_rows(dsn, "wal_archiving", target, end)
    backlog = latest_rows(dsn, "wal_archive_backlog", target, end)
    ready = backlog["ready_count"].iloc[0] if not backlog.empty else None
    return archiving.assign(ready_count=ready) if not archiving.empty else archiving


@cached_read
def drills(dsn: Secret, target: str, limit: int = 20) -> pd.DataFrame:
    """The latest restore drills, newest first."""
    return read_frame(dsn, """
        SELECT started_at, finished_at, duration_seconds, trigger, requested_time,
               backup_label, recovered_to, newest_transaction_at, restore_seconds,
               recovery_seconds, outcome, checks, row_counts, error
        FROM kasho_ops.restore_drills WHERE target = %(target)s
        ORDER BY started_at DESC LIMIT %(limit)s""", {"target": target, "limit": limit})


@cached_read
def basebackups(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Base backups seen streaming in the window: each pid's latest sample."""
    return read_frame(dsn, sql.SQL("""
        SELECT DISTINCT ON (pid, started_at) collected_at, pid, application_name, client_addr,
               started_at, phase, backup_total_bytes, backup_streamed_bytes
        FROM kasho_ops.basebackup_progress WHERE {window}
        ORDER BY pid, started_at, collected_at DESC""").format(window=WINDOW),
        window_params(target, start, end))


@cached_read
def oldest_partition_day(dsn: Secret) -> pd.DataFrame:
    """The oldest daily partition of any store table: how far back history reaches."""
    return read_frame(dsn, r"""
        SELECT min(to_date(right(c.relname, 8), 'YYYYMMDD')) AS oldest_day
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'kasho_ops' AND c.relname ~ '_p[0-9]{8}$'""", {})
