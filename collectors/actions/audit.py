"""The audit trail's session: every DBA action and EXPLAIN writes its rows through here.

The audit tables (kasho_ops.dba_actions, kasho_ops.explain_runs) are append-only in the
metrics store. An action opens one short session, checks that it can reach its audit table,
and only then acts: no audit, no action.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from collectors.core.connections import TrackedConnection
from collectors.core.redact import Secret

AUDIT_APPLICATION_NAME = "kasho-ops-audit"


def connect_audit(store_dsn: Secret, table: str) -> psycopg.Connection[Any]:
    """An autocommit store session that may append to kasho_ops.<table>; raises psycopg.Error.

    The audit role needs INSERT on the audit tables and nothing else (README, "Store roles"),
    so the check asks for that privilege rather than reading the table."""
    conn = TrackedConnection.connect(store_dsn.reveal(),
                                     application_name=AUDIT_APPLICATION_NAME,
                                     connect_timeout=5, autocommit=True,
                                     options="-c statement_timeout=5000 -c lock_timeout=1000")
    try:
        qualified = sql.Identifier("kasho_ops", table).as_string(conn)
        row = conn.execute("SELECT has_table_privilege(%s, 'INSERT')", [qualified]).fetchone()
        if not row or not row[0]:
            raise psycopg.errors.InsufficientPrivilege(
                f"role {conn.info.user} may not INSERT into {qualified}")
    except psycopg.Error:
        conn.close()
        raise
    return conn
