"""The setup check (capability probe): what Kasho Ops cannot collect on a target, why, and
the one-line fix. `kasho-ops doctor [--target NAME]` prints it; the Security page runs it on
demand.

It connects as the collector does (monitoring role, read-only, timeouts), checks the role's
predefined roles, then runs every metric group's query once in a read-only transaction
(the per-run query only: no texts, no store) and turns each failure into its fix: a missing
or not preloaded extension (the engine's own wording), a missing privilege, a timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg

from collectors.core.config import Config, Target
from collectors.core.connections import describe_error, monitoring_connect_kwargs
from collectors.core.engine import missing_extension_error, read_server
from collectors.core.metric_groups import MetricGroup, load_catalog

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


def _group_finding(conn: psycopg.Connection[Any], group: MetricGroup, target: Target,
                   major: int, role: str) -> Finding:
    if major < group.min_major:
        return Finding(group.name, False, f"no definition for PostgreSQL {major}",
                       f"needs PostgreSQL {group.min_major}+")
    try:
        read_server(conn, group.sql_for(major), group.timeout_ms)
    except psycopg.Error as exc:
        extension = missing_extension_error(group, target, exc)
        if extension:
            return Finding(group.name, False, extension.split(": ", 1)[-1],
                           extension.rsplit("run ", 1)[-1] if "run " in extension
                           else extension)
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            return Finding(group.name, False, describe_error(exc),
                           f"GRANT pg_monitor TO {role};  -- needs: {group.requires}")
        if isinstance(exc, psycopg.errors.QueryCanceled):
            return Finding(group.name, False, "timed out",
                           f"raise [intervals]/timeout for {group.name}, or look at the server")
        return Finding(group.name, False, describe_error(exc), f"needs: {group.requires}")
    return Finding(group.name, True)


def probe_target(config: Config, target_name: str,
                 groups: list[MetricGroup] | None = None) -> ProbeResult:
    target = config.target(target_name)
    groups = groups if groups is not None else list(load_catalog().values())
    kwargs = monitoring_connect_kwargs(target, config.collector)
    try:
        conn = psycopg.connect(**kwargs, autocommit=True)
    except psycopg.Error as exc:
        return ProbeResult(target.name, (Finding(
            "connection", False, describe_error(exc),
            "check the target's dsn, the password source and pg_hba.conf"),))
    findings: list[Finding] = []
    with conn:
        role = conn.info.user
        for predefined, fix in ROLE_FIXES.items():
            row = conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')",
                               [predefined]).fetchone()
            member = bool(row and row[0])
            findings.append(Finding(f"role {role}: {predefined}", member,
                                    "" if member else f"{role} is not a member of {predefined}",
                                    "" if member else fix.format(role=role)))
        major = conn.info.server_version // 10000
        for group in groups:
            findings.append(_group_finding(conn, group, target, major, role))
    return ProbeResult(target.name, tuple(findings))
