"""The thin typed layer over psycopg every module shares for one-value reads."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.abc import Params

Query = str | sql.SQL | sql.Composed


def fetch_value(conn: psycopg.Connection[Any], query: Query, params: Params | None = None) -> Any:
    """The first column of the first row; a query that returns no row is a bug here."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise LookupError("expected one row, got none")
    return row[0] if isinstance(row, tuple | list) else next(iter(row.values()))
