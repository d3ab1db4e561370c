"""Kasho Ops page reads from the store: collector runs per group and per bucket, the latest
errors, the collectors' heartbeats and leases, and the size of every daily partition."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import cached_read, read_frame, time_bucket

RUNS_WINDOW = sql.SQL("started_at > %(start)s AND started_at <= %(end)s")


@cached_read
def run_stats(dsn: Secret, start: datetime, end: datetime) -> pd.DataFrame:
    """Per metric group over all targets: runs, failed runs, targets, rows written, and the
    duration and lateness (ms) median, 95th percentile and maximum."""
    return read_frame(dsn, sql.SQL("""
        SELECT metric_group,
               count(*)::float8 AS runs,
               (count(*) FILTER (WHERE error IS NOT NULL))::float8 AS failed,
               count(DISTINCT target)::float8 AS targets,
               sum(rows_written)::float8 AS rows_written,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS duration_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS duration_p95_ms,
               max(duration_ms) AS duration_max_ms,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY lateness_ms) AS lateness_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY lateness_ms) AS lateness_p95_ms,
               max(lateness_ms) AS lateness_max_ms
        FROM kasho_ops.collector_runs WHERE {window}
        GROUP BY metric_group ORDER BY metric_group""").format(window=RUNS_WINDOW),
        {"start": start, "end": end})


@cached_read
def run_history(dsn: Secret, start: datetime, end: datetime, bucket: int) -> pd.DataFrame:
    """Per bucket and group: the 95th percentile of duration and lateness (ms), and the
    failed runs."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, metric_group,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS duration_p95_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY lateness_ms) AS lateness_p95_ms,
               (count(*) FILTER (WHERE error IS NOT NULL))::float8 AS failed
        FROM kasho_ops.collector_runs WHERE {window}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("started_at"),
                                               window=RUNS_WINDOW),
        {"start": start, "end": end, "bucket": bucket})


@cached_read
def recent_errors(dsn: Secret, start: datetime, end: datetime, limit: int = 20) -> pd.DataFrame:
    """The latest failed runs: when, target, group and the (already redacted) error."""
    return read_frame(dsn, sql.SQL("""
        SELECT started_at, target, metric_group, error
        FROM kasho_ops.collector_runs WHERE {window} AND error IS NOT NULL
        ORDER BY started_at DESC LIMIT %(limit)s""").format(window=RUNS_WINDOW),
        {"start": start, "end": end, "limit": limit})


@cached_read
def collectors(dsn: Secret) -> pd.DataFrame:
    """Every collector process with a heartbeat row: alive (lease not expired), and how many
    targets it holds."""
    return read_frame(dsn, """
        SELECT c.collector_id, c.hostname, c.pid, c.started_at, c.heartbeat_at,
               c.expires_at > now() AS alive,
               (SELECT count(*) FROM kasho_ops.target_leases l
                WHERE l.collector_id = c.collector_id AND l.expires_at > now())::float8
                   AS targets
        FROM kasho_ops.collectors c
        ORDER BY alive DESC, c.started_at""", {})


@cached_read
def partition_sizes(dsn: Secret) -> pd.DataFrame:
    """table_name, day, bytes: every daily partition of the store."""
    return read_frame(dsn, "SELECT table_name, day, bytes::float8 AS bytes "
                           "FROM kasho_ops.partition_sizes ORDER BY day, table_name", {})


@cached_read
def unpartitioned_bytes(dsn: Secret) -> pd.DataFrame:
    """table_name, bytes: store tables kept whole (statement texts, audit trails, leases)."""
    return read_frame(dsn, """
        SELECT c.relname::text AS table_name, pg_total_relation_size(c.oid)::float8 AS bytes
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'kasho_ops' AND c.relkind = 'r' AND NOT c.relispartition
        ORDER BY 2 DESC""", {})
