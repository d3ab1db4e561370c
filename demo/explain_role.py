"""The demo's EXPLAIN role: what a target's `explain_dsn` names in production.

PostgreSQL checks a statement's table privileges even when it only plans it, and the
monitoring role (pg_monitor) has none, so EXPLAIN of the workload's statements needs a role
that holds the privileges they use. Kasho Ops uses it for EXPLAIN only, one statement at a
time over the extended protocol, in a READ ONLY transaction that is rolled back; the role is
read-only by default as well.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

EXPLAIN_ROLE = "kasho_ops_explain"
# Schemas of the database, less PostgreSQL's own.
_SCHEMAS = """
SELECT nspname FROM pg_namespace
WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
ORDER BY nspname"""


def grant_explain_role(conn: psycopg.Connection[Any], role: str = EXPLAIN_ROLE) -> None:
    """Create `role` if needed and grant it what planning the database's statements needs:
    USAGE on every schema, SELECT/INSERT/UPDATE/DELETE on every table (run as a superuser, in
    the application's database, after its migrations)."""
    name = sql.Identifier(role)
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT 2").format(name))
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(name))
    for (schema,) in conn.execute(_SCHEMAS).fetchall():
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema),
                                                                     name))
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} "
                             "TO {}").format(sql.Identifier(schema), name))
