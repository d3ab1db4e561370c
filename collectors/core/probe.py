"""The setup check (capability probe): what Kasho Ops cannot collect on a target, why, and
the one-line fix. `kasho-ops doctor [--target NAME]` prints it; the Security page runs it on
demand.

It connects as the collector does (monitoring role, read-only, timeouts; the admin console
for a PgBouncer target), checks the role's predefined roles, then reads every metric group
of the target's kind once, as the collector does (the per-run query only: no texts, no
store), and turns each failure into its fix: a missing or not preloaded extension (the
engine's own wording), a missing privilege (the GRANT on the table the server named, or the
predefined role), a timeout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from collectors.core.config import Config, Target
from collectors.core.connections import describe_error
from collectors.core.deadlines import answer_within, connect_within, deadline_seconds
from collectors.core.engine import extension_installed, missing_extension_error
from collectors.core.errors import NoAnswer
from collectors.core.incremental import Window
from collectors.core.metric_groups import MetricGroup, load_catalog
from collectors.core.query_marker import marked
from collectors.core.sql_parameters import bind
from collectors.core.target_kinds import kind_for, read_server

_DENIED_TABLE = re.compile(r'permission denied for (?:table|relation) ("?[\w.]+"?)')
ROLE_FIXES = {
    "pg_monitor": "GRANT pg_monitor TO {role};",
    "pg_read_all_stats": "GRANT pg_read_all_stats TO {role};  -- or pg_monitor",
}


@dataclass(frozen=True)
class Finding:
    subject: str  # a metric group, or a predefined role / the connection itself
    ok: bool
    problem: str = ""
    fix: str = ""


@dataclass(frozen=True)
class ProbeResult:
    target: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({
            "what": [f.subject for f in self.findings],
            "works": ["yes" if f.ok else "no" for f in self.findings],
            "why not": [f.problem for f in self.findings],
            "fix": [f.fix for f in self.findings]})


def _privilege_fix(exc: psycopg.Error, role: str, group: MetricGroup) -> str:
    """The GRANT that fixes a refused read: SELECT on the table the server named, else the
    predefined role the group needs."""
    match = _DENIED_TABLE.search(str(exc))
    if match:
        return f"GRANT SELECT ON {match.group(1)} TO {role};"
    return f"GRANT pg_monitor TO {role};  -- needs: {group.requires}"


def _read_as_collected(conn: psycopg.Connection[Any], group: MetricGroup, target: Target,
                       config: Config, major: int) -> str | None:
    """One read of the group as the engine makes it: the parameters it binds, a one-minute
    window for an incremental group; an optional group whose extension is missing is skipped
    as the engine skips it (returned: why)."""
    if group.optional and not extension_installed(conn, group.extension or ""):
        return f"{group.extension} is not installed: skipped, as the collector skips it"
    params = bind(group.parameters, target, config.collector)
    if group.incremental is not None:
        now = datetime.now(UTC)
        window = Window(now - timedelta(minutes=1), now)
        read_server(conn, group.sql_for(major), group.timeout_ms,
                    {**(params or {}), **window.params()})
    else:
        kind_for(target).read(conn, group, major, group.timeout_ms, params)
    return None


def _group_finding(conn: psycopg.Connection[Any], group: MetricGroup, target: Target,
                   config: Config, major: int, role: str) -> Finding:
    if target.kind == "postgres" and major < group.min_major:
        return Finding(group.name, False, f"no definition for PostgreSQL {major}",
                       f"needs PostgreSQL {group.min_major}+")
    seconds = deadline_seconds(group.timeout_ms or config.collector.statement_timeout_ms)
    try:
        with answer_within(conn, seconds, target.name):
            skipped = _read_as_collected(conn, group, target, config, major)
    except NoAnswer as exc:
        return Finding(group.name, False, str(exc), "look at the server: it stopped answering "
                       "(the collector gives up on it the same way)")
    except psycopg.Error as exc:
        extension = missing_extension_error(group, target, exc)
        if extension:
            return Finding(group.name, False, extension.split(": ", 1)[-1],
                           extension.rsplit("run ", 1)[-1] if "run " in extension
                           else extension)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return Finding(group.name, False, describe_error(exc),
                           _privilege_fix(exc, role, group))
        if "unsupported XML feature" in str(exc):
            return Finding(group.name, False, "this server was built without XML support "
                           "(libxml), which the group's query needs",
                           "use a PostgreSQL built with libxml (distribution packages are); "
                           "until then this group stays empty")
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return Finding(group.name, False, "timed out",
                           f"raise [intervals]/timeout for {group.name}, or look at the server")
        return Finding(group.name, False, describe_error(exc), f"needs: {group.requires}")
    return Finding(group.name, True, skipped or "")


def _connect(target: Target, config: Config) -> psycopg.Connection[Any]:
    """Raises psycopg.Error, or NoAnswer when the server does not finish the startup."""
    kwargs = kind_for(target).session.connect_kwargs(target, config.collector)
    return connect_within(**{"autocommit": True, **kwargs})


def _findings(conn: psycopg.Connection[Any], groups: list[MetricGroup], target: Target,
              config: Config, major: int) -> list[Finding]:
    """Each group's finding; once the server stops answering, the rest are not tried."""
    findings: list[Finding] = []
    for group in groups:
        if conn.closed:
            findings.append(Finding(group.name, False, "not tried: the server stopped "
                                    "answering", "look at the server"))
        else:
            findings.append(_group_finding(conn, group, target, config, major,
                                           conn.info.user))
    return findings


def _business_findings(target: Target, config: Config,
                       groups: list[MetricGroup]) -> list[Finding]:
    """The business groups, read through the target's business role (business_dsn)."""
    if not groups:
        return []
    names = ", ".join(g.name for g in groups)
    business = target.business()
    if business is None:
        return [Finding(f"business groups ({names})", False,
                        "the target has no business_dsn, so the Business pages stay empty",
                        "set business_dsn on the target: a role with SELECT on users, accounts "
                        "and transactions (README: business role)")]
    try:
        conn = _connect(business, config)
    except (psycopg.Error, NoAnswer) as exc:
        return [Finding(f"business connection ({names})", False, describe_error(exc),
                        "check the target's business_dsn, its password and pg_hba.conf")]
    with conn:
        return _findings(conn, groups, business, config, conn.info.server_version // 10000)


def probe_target(config: Config, target_name: str,
                 groups: list[MetricGroup] | None = None) -> ProbeResult:
    """Every metric group of the target's kind (PostgreSQL server or PgBouncer console),
    read once as the collector reads it; on a server also its predefined roles."""
    target = config.target(target_name)
    groups = groups if groups is not None else list(load_catalog().values())
    groups = [g for g in groups if g.target_kind == target.kind]
    try:
        conn = _connect(target, config)
    except (psycopg.Error, NoAnswer) as exc:
        return ProbeResult(target.name, (Finding(
            "connection", False, describe_error(exc),
            "check the target's dsn, the password source and pg_hba.conf"),))
    findings: list[Finding] = []
    with conn:
        role = conn.info.user
        major = conn.info.server_version // 10000  # as the engine reads it, for both kinds
        if target.kind == "postgres":
            for predefined, fix in ROLE_FIXES.items():
                row = conn.execute(marked("SELECT pg_has_role(current_user, %s, 'MEMBER')"),
                                   [predefined]).fetchone()
                member = bool(row and row[0])
                findings.append(Finding(f"role {role}: {predefined}", member,
                                        "" if member else
                                        f"{role} is not a member of {predefined}",
                                        "" if member else fix.format(role=role)))
        findings += _findings(conn, [g for g in groups if g.connection == "monitoring"],
                              target, config, major)
    findings += _business_findings(target, config,
                                   [g for g in groups if g.connection == "business"])
    return ProbeResult(target.name, tuple(findings))
