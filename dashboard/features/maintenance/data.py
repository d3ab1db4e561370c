"""Maintenance page reads from the store, all on one store session (`maintenance_reads`,
cached): autovacuum status, maintenance running now (the newest maintenance_progress run),
the wraparound forecast (the kasho_ops.wraparound_forecast view) and XID age history, what
holds the xmin horizon (newest xmin_horizon run), bloat estimates (newest bloat_estimate
run), the tracked tables, the relation summary and extensions; and, never cached, the exact
measurements' audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core import relations
from dashboard.core.relations import QueryWithParams
from dashboard.core.store import (
    WINDOW,
    cached_read,
    latest_run,
    latest_sample,
    read_frame,
    store_session,
    time_bucket,
    window_params,
)


def xid_age_history(target: str, start: datetime, end: datetime,
                    bucket: int) -> QueryWithParams:
    """collected_at (bucket), datname, xid_age, mxid_age (the bucket's largest)."""
    return sql.SQL("""
        SELECT {bucket} AS collected_at, datname, max(xid_age)::float8 AS xid_age,
               max(mxid_age)::float8 AS mxid_age
        FROM kasho_ops.database_wraparound WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                             window=WINDOW), window_params(
        target, start, end, bucket)


@dataclass(frozen=True)
class MaintenanceReads:
    autovacuum: pd.DataFrame
    progress: pd.DataFrame  # run_at and the rows of the newest maintenance_progress run
    forecast: pd.DataFrame
    xid_history: pd.DataFrame
    horizon: pd.DataFrame  # run_at and what held the horizon at the newest run
    bloat: pd.DataFrame  # run_at and the newest bloat_estimate run's rows
    tables: pd.DataFrame
    summary: pd.DataFrame
    extensions: pd.DataFrame

    @property
    def empty(self) -> bool:
        return bool(self.autovacuum.empty and self.tables.empty and self.forecast.empty)


@cached_read
def maintenance_reads(dsn: Secret, target: str, start: datetime, end: datetime,
                      bucket: int) -> MaintenanceReads:
    """Everything the Maintenance page shows but the audit trail, on one store session."""
    now = {"target": target, "end": end}
    with store_session(dsn) as read:
        return MaintenanceReads(
            autovacuum=read(latest_sample("autovacuum_status"), now),
            progress=read(latest_run("maintenance_progress", "maintenance_progress"), now),
            forecast=read("SELECT * FROM kasho_ops.wraparound_forecast "
                          "WHERE target = %(target)s ORDER BY xid_age DESC, datname", now),
            xid_history=read(*xid_age_history(target, start, end, bucket)),
            horizon=read(sql.SQL("{} ORDER BY xmin_age DESC").format(
                latest_run("xmin_horizon", "xmin_horizon")), now),
            bloat=read(latest_run("bloat_estimate", "bloat_estimate"), now),
            tables=read(*relations.tables_in_range(target, start, end)),
            summary=read(*relations.relation_summary(target, end)),
            extensions=read(*relations.extensions(target, end)),
        )


def measurements(dsn: Secret, target: str, limit: int = 20) -> pd.DataFrame:
    """The exact bloat measurements' audit trail, newest first (never cached: a measurement
    just taken must show at once)."""
    return read_frame(dsn, """
        SELECT measured_at, actor, actor_role, datname, schemaname, relname, kind, method,
               outcome, error, relation_bytes, dead_percent, free_percent, leaf_density,
               leaf_fragmentation, duration_ms
        FROM kasho_ops.bloat_measurements WHERE target = %(target)s
        ORDER BY measured_at DESC, id DESC LIMIT %(limit)s""",
                      {"target": target, "limit": limit})
