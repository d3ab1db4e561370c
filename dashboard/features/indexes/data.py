"""Indexes page reads from the store: the tracked indexes and tables, the relation summary
and extensions on one store session (`index_reads`, cached, queries from
dashboard/core/relations.py); the collected statements that mention a table (the candidates
for index advice); and, never cached, the advice audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from collectors.core.redact import Secret
from dashboard.core import relations
from dashboard.core.store import cached_read, read_frame, store_session


@dataclass(frozen=True)
class IndexReads:
    indexes: pd.DataFrame
    tables: pd.DataFrame
    summary: pd.DataFrame
    extensions: pd.DataFrame


@cached_read
def index_reads(dsn: Secret, target: str, start: datetime, end: datetime) -> IndexReads:
    """The tracked indexes and tables with their values at the start of the range, the
    relation summary and the extensions, on one store session."""
    with store_session(dsn) as read:
        return IndexReads(indexes=read(*relations.indexes_in_range(target, start, end)),
                          tables=read(*relations.tables_in_range(target, start, end)),
                          summary=read(*relations.relation_summary(target, end)),
                          extensions=read(*relations.extensions(target, end)))


@cached_read
def statements_on(dsn: Secret, target: str, start: datetime, end: datetime, relname: str,
                  limit: int = 20) -> pd.DataFrame:
    """queryid, datname, query, calls, total_exec_time_ms: collected statements whose text
    names `relname` (a plain substring match: the plan decides what they read), by time
    spent in the range."""
    return read_frame(dsn, """
        SELECT t.queryid, t.datname, t.query,
               coalesce(sum(s.calls), 0)::float8 AS calls,
               coalesce(sum(s.total_exec_time_ms), 0)::float8 AS total_exec_time_ms
        FROM kasho_ops.query_texts t
        LEFT JOIN kasho_ops.query_stats s
          ON s.target = t.target AND s.queryid = t.queryid AND s.dbid = t.dbid
         AND s.userid = t.userid AND s.collected_at > %(start)s AND s.collected_at <= %(end)s
        WHERE t.target = %(target)s
          AND strpos(lower(t.query), lower(%(relname)s)) > 0
          AND lower(ltrim(t.query)) ~ '^(select|with|update|delete|insert)'
        GROUP BY t.queryid, t.datname, t.query
        ORDER BY total_exec_time_ms DESC, calls DESC
        LIMIT %(limit)s""", {"target": target, "start": start, "end": end,
                             "relname": relname, "limit": limit})


def advice_runs(dsn: Secret, target: str, limit: int = 20) -> pd.DataFrame:
    """The index advice audit trail, newest first (never cached: a run just made must show)."""
    return read_frame(dsn, """
        SELECT advised_at, actor, actor_role, datname, queryid, outcome, error, suggested_index,
               cost_before, cost_after
        FROM kasho_ops.index_advice_runs WHERE target = %(target)s
        ORDER BY advised_at DESC, id DESC LIMIT %(limit)s""", {"target": target, "limit": limit})
