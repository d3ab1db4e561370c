"""PgBouncer reads from the store for the Connections page: the latest pools with their pool
size, clients and servers per bucket, and average query and transaction time per bucket."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from psycopg import sql

from collectors.core.redact import Secret
from dashboard.core.store import WINDOW, cached_read, read_frame, time_bucket, window_params

# The console's own pseudo-database is not a pool anyone's clients use.
NOT_A_POOL = sql.SQL("database <> 'pgbouncer'")


@cached_read
def latest_pools(dsn: Secret, target: str, start: datetime, end: datetime) -> pd.DataFrame:
    """The pgbouncer_pools sample at the end of the window, with each pool's pool_size from
    the latest pgbouncer_databases sample (NULL before the first one)."""
    return read_frame(dsn, sql.SQL("""
        WITH latest AS (
            SELECT max(collected_at) AS at FROM kasho_ops.pgbouncer_pools WHERE {window}
        ), sizes AS (
            SELECT DISTINCT ON (name) name, pool_size, max_connections
            FROM kasho_ops.pgbouncer_databases WHERE {window}
            ORDER BY name, collected_at DESC
        )
        SELECT p.collected_at, p.database, p.usename, p.pool_mode, p.cl_active, p.cl_waiting,
               p.sv_active, p.sv_idle, p.sv_used, p.sv_tested, p.sv_login, p.maxwait_seconds,
               s.pool_size, s.max_connections
        FROM kasho_ops.pgbouncer_pools p
        JOIN latest ON p.collected_at = latest.at
        LEFT JOIN sizes s ON s.name = p.database
        WHERE p.target = %(target)s AND p.{not_a_pool}
        ORDER BY p.database, p.usename""").format(window=WINDOW, not_a_pool=NOT_A_POOL),
        window_params(target, start, end))


@cached_read
def pool_history(dsn: Secret, target: str, start: datetime, end: datetime,
                 bucket: int) -> pd.DataFrame:
    """Per bucket and pool (database/user): the most clients waiting and the longest wait at a
    sample, mean clients active and server connections (active and open)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, database || '/' || usename AS pool,
               max(cl_waiting)::float8 AS cl_waiting,
               max(maxwait_seconds)::float8 AS maxwait_seconds,
               avg(cl_active)::float8 AS cl_active,
               avg(sv_active)::float8 AS sv_active,
               avg(sv_active + sv_idle + sv_used + sv_tested + sv_login)::float8 AS sv_open
        FROM kasho_ops.pgbouncer_pools WHERE {window} AND {not_a_pool}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                               window=WINDOW, not_a_pool=NOT_A_POOL),
        window_params(target, start, end, bucket))


@cached_read
def pooled_timings(dsn: Secret, target: str, start: datetime, end: datetime,
                   bucket: int) -> pd.DataFrame:
    """Per bucket and database: queries and transactions pooled, and their total time and
    the clients' total wait for a server, in microseconds (pgbouncer_stats deltas)."""
    return read_frame(dsn, sql.SQL("""
        SELECT {bucket} AS collected_at, database,
               sum(total_query_count)::float8 AS queries,
               sum(total_xact_count)::float8 AS transactions,
               sum(total_query_time_us)::float8 AS query_time_us,
               sum(total_xact_time_us)::float8 AS xact_time_us,
               sum(total_wait_time_us)::float8 AS wait_time_us
        FROM kasho_ops.pgbouncer_stats WHERE {window} AND {not_a_pool}
        GROUP BY 1, 2 ORDER BY 1, 2""").format(bucket=time_bucket("collected_at"),
                                               window=WINDOW, not_a_pool=NOT_A_POOL),
        window_params(target, start, end, bucket))
