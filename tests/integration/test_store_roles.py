"""The store roles exactly as the README grants them (issue 11 §1): the dashboard's read role
may only SELECT, the audit role may only append to the audit tables, and every audited
action and sign-in still records its row through that audit role, refusals included."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from collectors.actions.bloat_measure import BloatRequest, measure_bloat
from collectors.actions.explain import ExplainDenied, audited_explain
from collectors.actions.index_advice import AdviceRequest, advise_index
from collectors.actions.signal import ActionRequest, perform
from collectors.alerts import actions as alert_actions
from collectors.alerts.silences import Matcher
from collectors.audit_export import AUDIT_KINDS, audit_rows
from collectors.core.access import AccessDenied, Actor
from collectors.core.config import Config, parse_config
from collectors.core.redact import Secret
from dashboard.core.auth import record_sign_in
from demo.cluster import LocalCluster

pytestmark = pytest.mark.single_major  # the store's grants, not the monitored server

README = Path(__file__).resolve().parents[2] / "README.md"
VIEWER = Actor("vera@kasho.example", "viewer")
OPERATOR = Actor("otto@kasho.example", "operator")


def readme_grants() -> str:
    """The SQL block under "### Store roles" in the README."""
    section = README.read_text().split("### Store roles", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block, "README's Store roles section has no sql block"
    return block.group(1)


@pytest.fixture
def store_roles(pg_cluster: LocalCluster, fresh_store: str) -> Iterator[tuple[str, str]]:
    """The README's grants applied to a fresh store, with per-test role names; yields the
    (read, audit) role names."""
    token = secrets.token_hex(3)
    reader, auditor = f"kasho_ops_dashboard_{token}", f"kasho_ops_audit_{token}"
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        owner = conn.info.user
        script = (readme_grants().replace("kasho_ops_dashboard", reader)
                  .replace("kasho_ops_audit", auditor)
                  .replace("PASSWORD '…'", "PASSWORD 'not-used-on-trust'")
                  .replace("FOR ROLE kasho_ops IN", f"FOR ROLE {owner} IN"))
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
    yield reader, auditor
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        for role in (reader, auditor):
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def as_role(dsn: str, role: str) -> str:
    return re.sub(r"user=\S+", f"user={role}", dsn)


def config_with_roles(store: str, reader: str, auditor: str) -> Config:
    return parse_config({"store": {"dsn": store, "read_dsn": as_role(store, reader),
                                   "audit_dsn": as_role(store, auditor)},
                         "dashboard": {"actions_enabled": True},
                         "targets": [{"name": "kasho-primary", "dsn": store}]}, environ={})


def test_every_action_records_through_the_audit_role(
        fresh_store: str, store_roles: tuple[str, str]) -> None:
    reader, auditor = store_roles
    config = config_with_roles(fresh_store, reader, auditor)
    # Each action refused for a viewer, so nothing reaches a server: only the audit rows.
    record_sign_in(config, VERA := VIEWER.name, "viewer", "signed_in", None, "key-1")
    record_sign_in(config, VERA, "viewer", "signed_in", None, "key-1")  # a reload: no row
    assert perform(ActionRequest("cancel", "kasho-primary", 4242, VIEWER), config).outcome \
        == "denied"
    with pytest.raises(ExplainDenied):
        audited_explain(config, "kasho-primary", "kasho", "SELECT 1", [], None, VIEWER)
    assert measure_bloat(config, BloatRequest("kasho-primary", "kasho", "public", "users",
                                              VIEWER)).outcome == "denied"
    assert advise_index(config, AdviceRequest("kasho-primary", "kasho", "SELECT 1",
                                              VIEWER)).outcome == "denied"
    with pytest.raises(AccessDenied):
        alert_actions.acknowledge(config.store, VIEWER, 7, "kasho-primary")
    # An operator's acknowledgement and silence: their ids come back (RETURNING id).
    assert alert_actions.acknowledge(config.store, OPERATOR, 7, "kasho-primary", "on it") > 0
    now = datetime.now(UTC)
    assert alert_actions.create_silence(
        config.store, OPERATOR, [Matcher("target", "=", "kasho-primary")], now,
        now + timedelta(hours=1), "maintenance window") > 0

    rows = [line for line in audit_rows(Secret(as_role(fresh_store, reader)),
                                        now - timedelta(minutes=10), None)]
    kinds = [re.search(r'"kind": "(\w+)"', row).group(1) for row in rows]  # type: ignore[union-attr]
    assert sorted(kinds) == sorted(["sign_in", "dba_action", "explain", "exact_bloat",
                                    "index_advice", "alert", "alert", "alert"])
    assert set(kinds) <= set(AUDIT_KINDS)


def test_the_roles_may_do_nothing_else(fresh_store: str, store_roles: tuple[str, str]) -> None:
    reader, auditor = store_roles
    record_sign_in(config_with_roles(fresh_store, reader, auditor), "ada@kasho.example",
                   "admin", "signed_in", None)
    with psycopg.connect(as_role(fresh_store, auditor), autocommit=True) as conn:
        for statement in ("SELECT identity FROM kasho_ops.sign_ins",
                          "SELECT * FROM kasho_ops.audit_log",
                          "UPDATE kasho_ops.sign_ins SET identity = 'someone else'",
                          "DELETE FROM kasho_ops.dba_actions",
                          "INSERT INTO kasho_ops.collector_runs DEFAULT VALUES"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with psycopg.connect(as_role(fresh_store, reader), autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM kasho_ops.audit_log").fetchone() == (1,)
        for statement in ("INSERT INTO kasho_ops.sign_ins (identity, mode, outcome) "
                          "VALUES ('forged', 'oidc', 'signed_in')",
                          "UPDATE kasho_ops.sign_ins SET identity = 'someone else'",
                          "DELETE FROM kasho_ops.explain_runs"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    # Not even the owner rewrites history: the audit tables are append-only.
    with psycopg.connect(fresh_store, autocommit=True) as conn, \
            pytest.raises(psycopg.Error, match="append-only"):
        conn.execute("UPDATE kasho_ops.sign_ins SET identity = 'someone else'")
