"""The Kasho database's login roles besides the owner: the application's and Kasho Ops'.

`kasho_app` is what the demo's workload runs as: the table privileges its scripts need and
nothing more (no DELETE, no DDL). `kasho_ops_business` is the role Kasho Ops' business groups
read with: SELECT on the columns of Kasho's three tables they aggregate, so it cannot read an
e-mail address or a password hash even by mistake (the README shows the same GRANTs).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

APP_ROLE = "kasho_app"
BUSINESS_ROLE = "kasho_ops_business"
APP_ROLE_GRANTS = (
    "GRANT SELECT, INSERT, UPDATE ON users, accounts, transactions TO {role}",
    "GRANT USAGE ON SCHEMA kasho_demo TO {role}",
    "GRANT SELECT ON kasho_demo.accounts TO {role}",
)
BUSINESS_ROLE_GRANTS = (
    "GRANT SELECT (id, account_id, transaction_type, amount, status, created_at, updated_at)"
    " ON transactions TO {role}",
    "GRANT SELECT (id, account_type, balance, currency, created_at) ON accounts TO {role}",
    "GRANT SELECT (created_at) ON users TO {role}",
)


def _grant(conn: psycopg.Connection[Any], role: str, grants: tuple[str, ...],
           connection_limit: int | None = None) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
    if exists is None:
        create = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role))
        if connection_limit is not None:
            create += sql.SQL(" CONNECTION LIMIT {}").format(sql.Literal(connection_limit))
        conn.execute(create)
    for grant in grants:
        conn.execute(sql.SQL(grant).format(role=sql.Identifier(role)))


def grant_app_role(conn: psycopg.Connection[Any], role: str = APP_ROLE) -> None:
    """Create the workload's login role if missing and grant it what the scripts need.

    `conn` is a superuser (or owner) session on the seeded Kasho database, in autocommit."""
    _grant(conn, role, APP_ROLE_GRANTS)


def grant_business_role(conn: psycopg.Connection[Any], role: str = BUSINESS_ROLE) -> None:
    """Create Kasho Ops' business role if missing and grant it its columns (on a migrated
    Kasho database, as its owner or a superuser, in autocommit)."""
    _grant(conn, role, BUSINESS_ROLE_GRANTS, connection_limit=3)
