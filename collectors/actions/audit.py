"""The audit trail's session: every DBA action and EXPLAIN writes its rows through here.

The audit tables (kasho_ops.dba_actions, kasho_ops.explain_runs) are append-only in the
metrics store. An action opens one short session, checks that it can reach its audit table,
and only then acts: no audit, no action.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import sql

from collectors.core.deadlines import Alarm, answer_within, connect_within, deadline_seconds
from collectors.core.errors import NoAnswer
from collectors.core.redact import Secret

AUDIT_APPLICATION_NAME = "kasho-ops-audit"
AUDIT_STATEMENT_TIMEOUT_MS = 5000


def audit_round_trip(conn: psycopg.Connection[Any]) -> AbstractContextManager[Alarm]:
    """The client-side deadline of an audit statement (raises NoAnswer if the store froze)."""
    return answer_within(conn, deadline_seconds(AUDIT_STATEMENT_TIMEOUT_MS), "metrics store")


def connect_audit(store_dsn: Secret, table: str) -> psycopg.Connection[Any]:
    """An autocommit store session that can read kasho_ops.<table>; raises psycopg.Error or
    NoAnswer."""
    conn = connect_within(store_dsn.reveal(), application_name=AUDIT_APPLICATION_NAME,
                          connect_timeout=5, autocommit=True,
                          options=f"-c statement_timeout={AUDIT_STATEMENT_TIMEOUT_MS} "
                                  "-c lock_timeout=1000")
    try:
        with audit_round_trip(conn):
            conn.execute(sql.SQL("SELECT 1 FROM kasho_ops.{} LIMIT 0").format(
                sql.Identifier(table)))
    except (psycopg.Error, NoAnswer):
        conn.close()
        raise
    return conn
