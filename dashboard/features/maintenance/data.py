"""Maintenance page reads from the store: autovacuum status, maintenance running now (the
newest maintenance_progress run), the wraparound forecast (the kasho_ops.wraparound_forecast
view) and XID age history, what holds the xmin horizon (newest xmin_horizon run), bloat
estimates (newest bloat_estimate run) and the exact measurements' audit trail."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import (
    WINDOW,
    cached_read,
    latest_run,
    latest_sample,
    read_frame,
    time_bucket,
    window_params,
)


@cached_read
def autovacuum(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """The newest autovacuum_status row (zero or one)."""
    return read_frame(dsn, latest_sample("autovacuum_status"), {"target": target, "end": end})


@cached_read
def progress(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """run_at and the maintenance running at the newest maintenance_progress run (a row of
    NULLs but run_at when nothing ran)."""
    return read_frame(dsn, latest_run("maintenance_progress", "maintenance_progress"),
                      {"target": target, "end": end})


@cached_read
def horizon(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """run_at and what held the xmin horizon at the newest xmin_horizon run."""
    return read_frame(dsn, sql.SQL("{} ORDER BY xmin_age DESC").format(
        latest_run("xmin_horizon", "xmin_horizon")), {"target": target, "end": end})


@cached_read
def bloat(dsn: Secret, target: str, end: datetime) -> pd.DataFrame:
    """run_at and the newest bloat_estimate run's rows."""
    return read_frame(dsn, latest_run("bloat_estimate", "bloat_estimate"),
                      {"target": target, "end": end})


@cached_read
def wraparound_forecast(dsn: Secret, target: str) -> pd.DataFrame:
    """kasho_ops.wraparound_forecast for the target, oldest database first."""
    return read_frame(dsn, "SELECT * FROM kasho_ops.wraparound_forecast "
                           "WHERE target = %(target)s ORDER BY xid_age DESC, datname",
                      {"target": target})


@cached_read
def xid_age_history(dsn: Secret, target: str, start: datetime, end: datetime,
                    bucket: int) -> pd.DataFrame:
    """collected_at (bucket), datname, xid_age, mxid_age (the bucket's largest)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, datname, max(xid_age)::float8 AS xid_age,
               max(mxid_age)::float8 AS mxid_age
        FROM kasho_ops.database_wraparound WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                             window=WINDOW),
        window_params(target, start, end, bucket))


def measurements(dsn: Secret, target: str, limit: int = 20) -> pd.DataFrame:
    """The exact bloat measurements' audit trail, newest first (never cached: a measurement
    just taken must show at once)."""
    return read_frame(dsn, """
        SELECT measured_at, actor, datname, schemaname, relname, kind, method, outcome, error,
               relation_bytes, dead_percent, free_percent, leaf_density, leaf_fragmentation,
               duration_ms
        FROM kasho_ops.bloat_measurements WHERE target = %(target)s
        ORDER BY measured_at DESC, id DESC LIMIT %(limit)s""",
                      {"target": target, "limit": limit})
