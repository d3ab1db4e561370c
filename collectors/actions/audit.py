"""The audit trail's session: every DBA action and EXPLAIN writes its rows through here.

The audit tables (kasho_ops.dba_actions, kasho_ops.explain_runs) are append-only in the
metrics store. An action opens one short session, checks that it can reach its audit table,
and only then acts: no audit, no action. Every audit statement has a client-side deadline
(`audit_round_trip`), so a frozen store fails the action in seconds instead of hanging it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import psycopg
from psycopg import sql

from collectors.core.connections import TrackedConnection
from collectors.core.deadlines import Alarm, answer_within, connect_within, deadline_seconds
from collectors.core.errors import NoAnswer
from collectors.core.redact import Secret

AUDIT_APPLICATION_NAME = "kasho-ops-audit"
AUDIT_STATEMENT_TIMEOUT_MS = 5000


def audit_round_trip(conn: psycopg.Connection[Any]) -> AbstractContextManager[Alarm]:
    """The client-side deadline of an audit statement (raises NoAnswer if the store froze)."""
    return answer_within(conn, deadline_seconds(AUDIT_STATEMENT_TIMEOUT_MS), "metrics store")


def connect_audit(store_dsn: Secret, table: str) -> psycopg.Connection[Any]:
    """An autocommit store session that may append to kasho_ops.<table>; raises psycopg.Error
    or NoAnswer.

    The audit role needs INSERT on the audit tables and nothing else (README, "Store roles"),
    so the check asks for that privilege rather than reading the table."""
    conn = connect_within(store_dsn.reveal(), connection_class=TrackedConnection,
                          application_name=AUDIT_APPLICATION_NAME, connect_timeout=5,
                          autocommit=True,
                          options=f"-c statement_timeout={AUDIT_STATEMENT_TIMEOUT_MS} "
                                  "-c lock_timeout=1000")
    try:
        qualified = sql.Identifier("kasho_ops", table).as_string(conn)
        with audit_round_trip(conn):
            row = conn.execute("SELECT has_table_privilege(%s, 'INSERT')",
                               [qualified]).fetchone()
        if not row or not row[0]:
            raise psycopg.errors.InsufficientPrivilege(
                f"role {conn.info.user} may not INSERT into {qualified}")
    except (psycopg.Error, NoAnswer):
        conn.close()
        raise
    return conn
