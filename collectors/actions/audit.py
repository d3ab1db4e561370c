"""The audit trail's session: every DBA action and EXPLAIN writes its rows through here.

The audit tables (kasho_ops.dba_actions, kasho_ops.explain_runs) are append-only in the
metrics store. An action opens one short session, checks that it can reach its audit table,
and only then acts: no audit, no action.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from collectors.core.redact import Secret

AUDIT_APPLICATION_NAME = "kasho-ops-audit"


def connect_audit(store_dsn: Secret, table: str) -> psycopg.Connection[Any]:
    """An autocommit store session that can read kasho_ops.<table>; raises psycopg.Error."""
    conn = psycopg.connect(store_dsn.reveal(), application_name=AUDIT_APPLICATION_NAME,
                           connect_timeout=5, autocommit=True,
                           options="-c statement_timeout=5000 -c lock_timeout=1000")
    try:
        conn.execute(sql.SQL("SELECT 1 FROM kasho_ops.{} LIMIT 0").format(sql.Identifier(table)))
    except psycopg.Error:
        conn.close()
        raise
    return conn
