"""The security posture checks (pure): the latest security_* samples of one target in, one
Check per question out, each with its state, why it matters and the fix.

States: ok; warn (a risk to look at); fail (a hole); unknown (Kasho Ops cannot see it, and
the fix says what would let it); info (a fact to review, no verdict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

State = Literal["ok", "warn", "fail", "unknown", "info"]
STATE_ORDER: dict[str, int] = {"fail": 0, "warn": 1, "unknown": 2, "info": 3, "ok": 4}
STATE_LABELS: dict[str, str] = {"ok": "OK", "warn": "WARN", "fail": "FAIL",
                                "unknown": "UNKNOWN", "info": "INFO"}
AREAS = ("Access control", "Encryption", "Audit logging", "Data masking")
PII_OBJECTS = ("users.email", "users.password_hash")
FINANCIAL_OBJECTS = ("accounts", "transactions")
OPEN_ADDRESSES = {"all", "0.0.0.0", "::", "::0", "0.0.0.0/0", "::/0", "::0/0", "samenet"}
WEAK_TLS = {"SSLv3", "TLSv1", "TLSv1.1"}


@dataclass(frozen=True)
class Check:
    area: str  # one of AREAS
    name: str
    state: State
    finding: str
    why: str
    fix: str


@dataclass(frozen=True)
class Posture:
    """The latest sample of each security group for one target (empty: never collected)."""

    settings: pd.DataFrame  # name, setting, present
    roles: pd.DataFrame  # rolname, superuser, can_login, password_valid_until, reads_all_data…
    hba: pd.DataFrame  # line_number, type, database, user_name, address, netmask, auth_method
    access: pd.DataFrame  # rolname, object, can_select, superuser, rls_enabled, rls_forced
    ssl: pd.DataFrame  # ssl, version, connections
    encryption_at_rest: str | None = None  # [security] encryption_at_rest, as declared
    backup_cipher: str | None = None  # pgBackRest's repository cipher, where collected


def _setting(settings: pd.DataFrame, name: str) -> str | None:
    row = settings[settings["name"] == name] if not settings.empty else settings
    if row.empty or not bool(row["present"].iloc[0]):
        return None
    return str(row["setting"].iloc[0])


def _names(values: pd.Series, limit: int = 8) -> str:
    names = sorted(str(v) for v in values)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _never(area: str, name: str, group: str) -> Check:
    return Check(area, name, "unknown", f"{group} has not been collected for this target",
                 "Without the sample there is nothing to judge.",
                 f"Run `kasho-ops collect` (group {group}); `kasho-ops doctor` says what it lacks.")


def access_control(p: Posture) -> list[Check]:
    area = "Access control"
    checks: list[Check] = []
    if p.roles.empty:
        checks.append(_never(area, "Superusers and login roles", "security_roles"))
    else:
        logins = p.roles[p.roles["can_login"]]
        supers = logins[logins["superuser"]]
        others = supers[supers["rolname"] != "postgres"]
        checks.append(Check(
            area, "Superusers that can log in", "warn" if len(others) else "ok",
            f"{len(supers)} of {len(logins)} login roles are superusers"
            + (f": {_names(supers['rolname'])}" if len(supers) else ""),
            "A superuser bypasses every privilege, row-level security and audit class; "
            "applications and people should not log in as one.",
            "ALTER ROLE name NOSUPERUSER; -- grant what the role needs instead"))
        no_expiry = logins[~logins["superuser"] & logins["password_valid_until"].isna()]
        checks.append(Check(
            area, "Login roles without password expiry", "warn" if len(no_expiry) else "ok",
            (f"{len(no_expiry)} role{'s' if len(no_expiry) > 1 else ''}: "
             f"{_names(no_expiry['rolname'])}" if len(no_expiry)
             else "every non-superuser login role has VALID UNTIL"),
            "A leaked password stays valid forever unless someone rotates it.",
            "ALTER ROLE name VALID UNTIL '2027-01-01'; -- and rotate before then"))
        readers = logins[logins["reads_all_data"] & ~logins["superuser"]]
        if len(readers):
            checks.append(Check(
                area, "Roles with pg_read_all_data", "warn",
                f"{_names(readers['rolname'])} can read every table, PII included",
                "pg_read_all_data bypasses every table and column grant.",
                "REVOKE pg_read_all_data FROM name;"))
    encryption = _setting(p.settings, "password_encryption")
    if p.settings.empty:
        checks.append(_never(area, "password_encryption", "security_settings"))
    else:
        checks.append(Check(
            area, "password_encryption", "ok" if encryption == "scram-sha-256" else "fail",
            f"password_encryption = {encryption}",
            "MD5 password hashes can be replayed and cracked; SCRAM is the safe method.",
            "ALTER SYSTEM SET password_encryption = 'scram-sha-256'; SELECT pg_reload_conf(); "
            "-- then set every password again"))
    checks.append(_hba_check(p.hba))
    checks.extend(_public_grants(p.access))
    return checks


def _hba_check(hba: pd.DataFrame) -> Check:
    area, name = "Access control", "pg_hba.conf rules"
    if hba.empty:
        return _never(area, name, "security_hba")
    if (hba["error"] == "not readable").all():
        return Check(area, name, "unknown",
                     "the monitoring role may not read pg_hba_file_rules",
                     "Trust rules and rules open to every address are invisible from here.",
                     "GRANT SELECT ON pg_hba_file_rules TO kasho_ops_monitor; GRANT EXECUTE "
                     "ON FUNCTION pg_hba_file_rules() TO kasho_ops_monitor;")
    rules = hba[hba["error"] == ""]
    trust = rules[rules["auth_method"] == "trust"]
    remote_trust = trust[trust["type"] != "local"]
    weak = rules[rules["auth_method"].isin(["md5", "password"])]
    open_rules = rules[(rules["type"] != "local") & (
        rules["address"].isin(OPEN_ADDRESSES)
        | rules["netmask"].isin({"0.0.0.0", "::", "::0"}))]

    def lines(frame: pd.DataFrame) -> str:
        return ", ".join(f"line {int(n)}" for n in sorted(frame["line_number"]))

    findings = []
    if len(trust):
        findings.append(f"trust (no password) on {lines(trust)}")
    if len(weak):
        findings.append(f"md5/password on {lines(weak)}")
    if len(open_rules):
        findings.append(f"open to all addresses on {lines(open_rules)}")
    errors = hba[(hba["error"] != "") & (hba["error"] != "not readable")]
    if len(errors):
        findings.append(f"{len(errors)} lines with errors")
    state: State = ("fail" if len(remote_trust) or (len(open_rules) and len(trust))
                    else "warn" if findings else "ok")
    return Check(area, name, state,
                 "; ".join(findings) or f"{len(rules)} rules, none trust, md5 or open to all",
                 "trust lets anyone who reaches the server in as any role; md5 is weaker than "
                 "SCRAM; rules for every address widen who can try.",
                 "In pg_hba.conf use scram-sha-256 and the narrowest address for each rule, "
                 "then SELECT pg_reload_conf();")


def _public_grants(access: pd.DataFrame) -> list[Check]:
    area = "Access control"
    if access.empty:
        return [_never(area, "PUBLIC grants and row-level security", "security_access")]
    checks = []
    schema = access[(access["rolname"] == "PUBLIC") & (access["object"] == "schema public")]
    creates = bool(schema["can_select"].iloc[0]) if not schema.empty else False
    checks.append(Check(
        area, "PUBLIC may CREATE in schema public", "fail" if creates else "ok",
        "every role may create objects in schema public" if creates
        else "CREATE on schema public is not granted to PUBLIC",
        "Any login role can plant functions or tables that others' queries resolve to.",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"))
    public = access[(access["rolname"] == "PUBLIC")
                    & access["object"].isin(PII_OBJECTS + FINANCIAL_OBJECTS)
                    & access["can_select"].fillna(False).astype(bool)]
    checks.append(Check(
        area, "PUBLIC may read Kasho's tables", "fail" if len(public) else "ok",
        f"PUBLIC can SELECT {_names(public['object'])}" if len(public)
        else "no SELECT granted to PUBLIC on users, accounts or transactions",
        "A grant to PUBLIC reaches every role that can log in, now and later.",
        "REVOKE SELECT ON users, accounts, transactions FROM PUBLIC;"))
    tables = access[access["object"].str.startswith("table ")]
    present = tables[tables["can_select"].fillna(False).astype(bool)]
    if tables.empty or present.empty:
        checks.append(Check(area, "Row-level security", "unknown",
                            "users, accounts and transactions are not in the database the "
                            "target connects to", "RLS can only be read where the tables are.",
                            "Point the target's dsn at Kasho's database (dbname=kasho)."))
    else:
        without = present[~present["rls_enabled"].fillna(False).astype(bool)]
        checks.append(Check(
            area, "Row-level security", "info" if len(without) else "ok",
            ("off on " + _names(without["object"].str.removeprefix("table "))) if len(without)
            else "on for users, accounts and transactions",
            "RLS limits which rows each role sees; off means table grants alone decide.",
            "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY; -- with a policy per role"))
    return checks


def encryption(p: Posture) -> list[Check]:
    area = "Encryption"
    checks: list[Check] = []
    ssl = _setting(p.settings, "ssl")
    if p.settings.empty:
        checks.append(_never(area, "ssl", "security_settings"))
    else:
        checks.append(Check(
            area, "ssl", "ok" if ssl == "on" else "fail", f"ssl = {ssl}",
            "Without TLS, passwords (md5) and every row travel in clear text.",
            "ssl = on, ssl_cert_file and ssl_key_file in postgresql.conf; "
            "SELECT pg_reload_conf();"))
        minimum = _setting(p.settings, "ssl_min_protocol_version")
        if ssl == "on" and minimum in WEAK_TLS:
            checks.append(Check(area, "ssl_min_protocol_version", "warn",
                                f"ssl_min_protocol_version = {minimum}",
                                "TLS before 1.2 has known weaknesses.",
                                "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2';"))
    if p.ssl.empty:
        checks.append(_never(area, "Client connections using TLS", "security_ssl"))
    else:
        total = int(p.ssl["connections"].sum())
        tls = p.ssl[p.ssl["ssl"].astype(bool)]
        tls_count = int(tls["connections"].sum())
        versions = ", ".join(f"{v}: {int(n)}" for v, n in
                             tls.groupby("version")["connections"].sum().items())
        weak = tls[tls["version"].isin(WEAK_TLS)]
        share = tls_count / total if total else 1.0
        checks.append(Check(
            area, "Client connections using TLS",
            "fail" if len(weak) else "ok" if share == 1.0 else "warn",
            f"{tls_count} of {total} client connections ({share:.0%})"
            + (f"; {versions}" if versions else ""),
            "A connection without TLS carries its password exchange and results in clear.",
            "hostssl instead of host in pg_hba.conf; sslmode=verify-full in clients"))
    checks.append(Check(
        area, "Backup repository encryption",
        "unknown" if p.backup_cipher is None
        else "ok" if p.backup_cipher not in ("", "none") else "warn",
        f"pgBackRest repository cipher: {p.backup_cipher}" if p.backup_cipher is not None
        else "pgBackRest info is not collected for this target",
        "Backups hold every row; a copied repository should be unreadable without the key.",
        "repo1-cipher-type=aes-256-cbc and repo1-cipher-pass in pgbackrest.conf (new "
        "repository)"))
    declared = p.encryption_at_rest
    checks.append(Check(
        area, "Data directory encrypted at rest", "info" if declared else "warn",
        f"declared, not detected: {declared}" if declared else "not declared",
        "PostgreSQL has no encryption at rest of its own; SQL cannot see the disk's.",
        "Encrypt the volume (LUKS, cloud KMS), then declare it: [security] "
        "encryption_at_rest = \"…\" in kasho-ops.toml"))
    return checks


def audit_logging(p: Posture) -> list[Check]:
    area = "Audit logging"
    if p.settings.empty:
        return [_never(area, "pgaudit and log settings", "security_settings")]
    preload = _setting(p.settings, "shared_preload_libraries") or ""
    loaded = "pgaudit" in [lib.strip() for lib in preload.split(",")]
    classes = _setting(p.settings, "pgaudit.log")
    checks = [Check(
        area, "pgaudit loaded", "ok" if loaded else "warn",
        f"shared_preload_libraries = {preload or '(empty)'}",
        "Without pgaudit, who read or changed what is not recorded in a form auditors accept.",
        "shared_preload_libraries = '…, pgaudit' (restart), then CREATE EXTENSION pgaudit;")]
    if loaded:
        chosen = {c.strip().lower() for c in (classes or "").split(",") if c.strip()}
        missing = {"ddl", "role"} - chosen - ({"ddl", "role"} if "all" in chosen else set())
        checks.append(Check(
            area, "pgaudit.log classes", "warn" if not chosen or chosen == {"none"} or missing
            else "ok", f"pgaudit.log = {classes or 'none'}",
            "The classes decide what is logged: ddl and role record schema and privilege "
            "changes; read and write on Kasho's tables record data access (and log volume).",
            "ALTER SYSTEM SET pgaudit.log = 'ddl, role, write'; SELECT pg_reload_conf();"))
        if _setting(p.settings, "pgaudit.log_parameter") == "on":
            checks.append(Check(
                area, "pgaudit.log_parameter", "warn", "pgaudit.log_parameter = on",
                "Bind parameters (e-mail addresses, amounts) are copied into the log.",
                "ALTER SYSTEM SET pgaudit.log_parameter = off; SELECT pg_reload_conf();"))
    for name in ("log_connections", "log_disconnections"):
        value = _setting(p.settings, name)
        checks.append(Check(area, name, "ok" if value == "on" else "warn", f"{name} = {value}",
                            "Who connected from where, and for how long, is the first thing "
                            "an incident review asks.",
                            f"ALTER SYSTEM SET {name} = on; SELECT pg_reload_conf();"))
    statement = _setting(p.settings, "log_statement")
    checks.append(Check(
        area, "log_statement", "warn" if statement == "all" else "info",
        f"log_statement = {statement}",
        "'ddl' records schema changes; 'mod' and 'all' also copy literals (PII) into the log.",
        "ALTER SYSTEM SET log_statement = 'ddl'; SELECT pg_reload_conf();"))
    duration = _setting(p.settings, "log_min_duration_statement")
    checks.append(Check(
        area, "log_min_duration_statement", "info",
        f"log_min_duration_statement = {duration}",
        "Slow statements are logged with their literals; -1 logs none, 0 logs every one.",
        "ALTER SYSTEM SET log_min_duration_statement = '1s'; SELECT pg_reload_conf();"))
    return checks


def data_masking(p: Posture) -> list[Check]:
    area = "Data masking"
    checks: list[Check] = []
    if p.access.empty:
        checks.append(_never(area, "Who can read PII columns", "security_access"))
    else:
        for obj in PII_OBJECTS + FINANCIAL_OBJECTS:
            rows = p.access[(p.access["object"] == obj) & (p.access["rolname"] != "PUBLIC")]
            known = rows[rows["can_select"].notna()]
            if known.empty:
                continue
            readers = known[known["can_select"].astype(bool)]
            plain = readers[~readers["superuser"].astype(bool)]
            checks.append(Check(
                area, f"Who can read {obj}", "warn" if obj == "users.password_hash"
                and len(plain) > 1 else "info",
                (f"{_names(plain['rolname'])}" if len(plain) else "no role but superusers")
                + f" (and {len(readers) - len(plain)} superusers)",
                "Each role that can read it is one more place its secrets can leak from.",
                f"REVOKE SELECT ON {obj.split('.')[0]} FROM name; GRANT SELECT (id, …) ON "
                f"{obj.split('.')[0]} TO name; -- the columns it needs"))
    checks.append(Check(
        area, "Kasho Ops pages mask literals", "ok",
        "statement texts show literals as ? for every role, viewers included",
        "Literals in statements carry e-mail addresses, amounts and passwords.",
        "Nothing to do: texts are normalized by pg_stat_statements and masked again by "
        "Kasho Ops before they are stored or shown."))
    return checks


def evaluate(p: Posture) -> list[Check]:
    return [*access_control(p), *encryption(p), *audit_logging(p), *data_masking(p)]


def summary(checks: list[Check]) -> dict[str, int]:
    return {state: sum(1 for c in checks if c.state == state) for state in STATE_ORDER}


def checks_table(checks: list[Check]) -> pd.DataFrame:
    """One area's checks as shown: worst first."""
    ordered = sorted(checks, key=lambda c: STATE_ORDER[c.state])
    return pd.DataFrame({
        "state": [STATE_LABELS[c.state] for c in ordered],
        "check": [c.name for c in ordered], "finding": [c.finding for c in ordered],
        "why it matters": [c.why for c in ordered], "fix": [c.fix for c in ordered],
    })
