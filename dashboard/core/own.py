"""Kasho Ops' own activity on a monitored server: the one rule every page uses to tell our
sessions, statements and store database from the application's.

Something is ours when it runs as one of our roles (the target's monitoring, actions, EXPLAIN
and business roles) or in our store database, when the store lives on the same server (every
store session, the collector's writes and the dashboard's reads, runs there; the store's
role is not counted, since it may also be a role the application or a DBA uses). Those need our
credentials. The `/* kasho-ops */` marker in every statement the collector sends
(`QUERY_MARKER`, recognised by collectors/core/query_marker.py's one rule) and our `kasho-ops…`
application names can be typed by anyone, so they count only where the config names no role for
the target (a DSN without a user and no PGUSER): otherwise any login could hide its statements
behind them.

The same rule comes in two forms that tests keep equal: Python predicates for frames already
read (`is_own_session`, `is_own_statement`, `own_mask`) and SQL for store reads that group or
filter on it (`session_sql`, `statement_sql`, with `params()`). Pages hide what is ours by
default and say how much they hid (`hidden_note`); the sidebar switch shows it.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg.conninfo
from psycopg import sql

from collectors.core.config import Config, Target
from collectors.core.connections import APPLICATION_NAME
from collectors.core.query_marker import OWN_STATEMENT_PATTERN
from collectors.core.query_marker import is_own_statement as carries_marker

DEFAULT_PORT = "5432"
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class OwnActivity:
    """Who Kasho Ops is on one target."""

    roles: frozenset[str] = frozenset()
    databases: frozenset[str] = frozenset()

    @property
    def trusts_marker(self) -> bool:
        """The marker and application name only count when no role is known."""
        return not self.roles

    def _own(self, role: object, database: object, marked: bool) -> bool:
        if role in self.roles or database in self.databases:
            return True
        return marked and self.trusts_marker

    def is_own_session(self, application_name: object, role: object,
                       database: object) -> bool:
        name = application_name if isinstance(application_name, str) else ""
        return self._own(role, database, name.startswith(APPLICATION_NAME))

    def is_own_statement(self, text: object, role: object, database: object) -> bool:
        """`text` may be None or NaN (no stored text): then only the role and database say."""
        return self._own(role, database, carries_marker(text))

    def own_mask(self, frame: pd.DataFrame, role: str, database: str,
                 application: str | None = None, text: str | None = None) -> pd.Series:
        """A boolean Series: which rows of `frame` are ours (give the application or the text
        column, whichever the frame has)."""
        if frame.empty:
            return pd.Series(False, index=frame.index, dtype=bool)
        mask = frame[role].isin(self.roles) | frame[database].isin(self.databases)
        if self.trusts_marker:
            if application is not None:
                mask |= frame[application].fillna("").astype(str).str.startswith(
                    APPLICATION_NAME)
            if text is not None:
                mask |= frame[text].fillna("").astype(str).str.match(OWN_STATEMENT_PATTERN)
        return mask.astype(bool)

    # -- the same rule in SQL, for store reads ----------------------------------------------

    def params(self) -> dict[str, Any]:
        return {"own_roles": sorted(self.roles), "own_databases": sorted(self.databases),
                "own_trusts_marker": self.trusts_marker,
                "own_application_prefix": APPLICATION_NAME,
                "own_marker_pattern": OWN_STATEMENT_PATTERN}

    @staticmethod
    def session_sql(application: str = "application_name", role: str = "usename",
                    database: str = "datname", table: str | None = None) -> sql.Composed:
        """A boolean SQL expression over a row's columns (of `table`, when given): is this
        session ours."""
        return _rule_sql(_column(table, role), _column(table, database), sql.SQL(
            "starts_with(coalesce({}, ''), %(own_application_prefix)s)").format(
                _column(table, application)))

    @staticmethod
    def statement_sql(text: str = "query", role: str = "rolname", database: str = "datname",
                      table: str | None = None) -> sql.Composed:
        """A boolean SQL expression over a row's columns (of `table`, when given): is this
        statement ours."""
        return _rule_sql(_column(table, role), _column(table, database), sql.SQL(
            "coalesce({}, '') ~ %(own_marker_pattern)s").format(
                _column(table, text)))


def _column(table: str | None, name: str) -> sql.Identifier:
    return sql.Identifier(table, name) if table else sql.Identifier(name)


def _rule_sql(role: sql.Composable, database: sql.Composable,
              marked: sql.Composable) -> sql.Composed:
    return sql.SQL("(coalesce({role} = ANY(%(own_roles)s::text[]), false) "
                   "OR coalesce({database} = ANY(%(own_databases)s::text[]), false) "
                   "OR coalesce(%(own_trusts_marker)s AND {marked}, false))").format(
        role=role, database=database, marked=marked)


# -- from the config --------------------------------------------------------------------------

def _params(dsn: str) -> dict[str, str]:
    return {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(dsn).items()
            if v is not None}


def _user(params: dict[str, str]) -> str:
    """The role libpq would log in as: the DSN's user, else PGUSER, else the OS user."""
    return params.get("user") or os.environ.get("PGUSER") or getpass.getuser()


def _server(params: dict[str, str]) -> tuple[str, str]:
    host = params.get("hostaddr") or params.get("host") or os.environ.get("PGHOST", "")
    if host.startswith("/") or host in LOCAL_HOSTS:
        host = "local"
    port = params.get("port") or os.environ.get("PGPORT") or DEFAULT_PORT
    return host, port


def own_activity(config: Config, target: Target) -> OwnActivity:
    """Our roles and databases on `target`: its monitoring, actions, EXPLAIN and business
    roles, plus the store's database when the store is on the same server."""
    target_params = _params(target.dsn.reveal())
    roles = {target_params["user"]} if target_params.get("user") else set()
    for extra in (target.actions_dsn, target.explain_dsn, target.business_dsn):
        if extra is not None:
            user = _params(extra.reveal()).get("user")
            if user:
                roles.add(user)
    if not roles and os.environ.get("PGUSER"):
        roles.add(os.environ["PGUSER"])
    databases: set[str] = set()
    store_params = _params(config.store.dsn.reveal())
    if _server(store_params) == _server(target_params):
        databases.add(store_params.get("dbname") or _user(store_params))
    return OwnActivity(frozenset(roles), frozenset(databases))


def hidden_note(count: int, noun: str, plural: str | None = None) -> str | None:
    """'12 Kasho Ops statements hidden …', or None when nothing was hidden."""
    if count <= 0:
        return None
    name = noun if count == 1 else (plural or noun + "s")
    return (f"{count:,} Kasho Ops {name} hidden · “Show Kasho Ops' own activity” in the "
            "sidebar shows them")


def count_hidden(mask: pd.Series, weights: Iterable[float] | None = None) -> int:
    """How many rows (or, with weights, how much) the mask hides."""
    if weights is None:
        return int(mask.sum())
    return round(sum(w for w, own in zip(weights, mask, strict=True) if own))
