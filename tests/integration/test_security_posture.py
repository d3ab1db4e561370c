"""The Security page's checks against real misconfigurations (issue 11 §3): a trust rule in
pg_hba.conf, a role without password expiry, PUBLIC grants, pgaudit unloaded and loaded,
SSL with a self-signed certificate and a TLS client. Each condition is built on a cluster of
this module's own, collected by the real security_* groups, and judged by logic.evaluate."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from collectors.core.config import CollectorSettings
from collectors.core.engine import Engine
from collectors.core.metric_groups import load_catalog
from collectors.migrate import MigrationRunner
from dashboard.features.security import logic
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.collector_setup import make_config
from tests.pg import free_port

GROUPS = ("security_settings", "security_roles", "security_hba", "security_access",
          "security_ssl")


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    base = Path(tempfile.mkdtemp(prefix="kasho-ops-security-"))
    node = LocalCluster(base, free_port())
    node.start()
    with psycopg.connect(node.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {MONITOR_ROLE} LOGIN CONNECTION LIMIT 5")
        conn.execute(f"GRANT pg_monitor TO {MONITOR_ROLE}")
        conn.execute("CREATE DATABASE kasho")
    MigrationRunner(node.dsn("kasho"), "kasho").up()
    with psycopg.connect(node.dsn("kasho"), autocommit=True) as conn:  # documented column
        conn.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS password_hash varchar(255)")
    yield node
    node.destroy()
    shutil.rmtree(base, ignore_errors=True)


def admin(cluster: LocalCluster, statement: str, dbname: str = "kasho") -> None:
    with psycopg.connect(cluster.dsn(dbname), autocommit=True) as conn:
        conn.execute(statement)


def checks(cluster: LocalCluster) -> dict[str, logic.Check]:
    """Collect the security groups as the monitoring role and judge them."""
    config = make_config(cluster.dsn("postgres"),  # never written: the engine has no store
                         {"t": cluster.dsn("kasho", MONITOR_ROLE)})
    catalog = load_catalog()
    engine = Engine(CollectorSettings(), None)
    try:
        frames = {g: pd.DataFrame(engine.read(catalog[g], config.targets[0]).rows)
                  for g in GROUPS}
    finally:
        engine.close()
    posture = logic.Posture(frames["security_settings"], frames["security_roles"],
                            frames["security_hba"], frames["security_access"],
                            frames["security_ssl"])
    return {c.name: c for c in logic.evaluate(posture)}


def add_hba_line(cluster: LocalCluster, line: str) -> None:
    hba = cluster.data_dir / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(line + "\n" + original)  # first match wins
    admin(cluster, "SELECT pg_reload_conf()", "postgres")


def test_hba_rules_unknown_until_granted_then_a_trust_rule_fails(cluster: LocalCluster) -> None:
    hba = checks(cluster)["pg_hba.conf rules"]
    assert hba.state == "unknown"
    assert "GRANT SELECT ON pg_hba_file_rules TO kasho_ops_monitor" in hba.fix
    admin(cluster, f"GRANT SELECT ON pg_hba_file_rules TO {MONITOR_ROLE}")
    admin(cluster, f"GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO {MONITOR_ROLE}")
    before = checks(cluster)["pg_hba.conf rules"]
    # initdb -A trust writes trust rules for local and 127.0.0.1 already.
    assert before.state == "fail" and "trust (no password)" in before.finding
    add_hba_line(cluster, "host all all 0.0.0.0/0 trust")
    after = checks(cluster)["pg_hba.conf rules"]
    assert after.state == "fail"
    assert "open to all addresses on line 1" in after.finding
    assert "trust (no password) on line 1," in after.finding


def test_hba_rules_are_read_on_every_major_only_once_granted(pg_cluster: LocalCluster) -> None:
    """The module's own cluster runs Debian's 15; this reads the rules on each major's
    session cluster (18's server is built without libxml: nothing here may need it)."""
    group = load_catalog()["security_hba"]
    config = make_config(pg_cluster.dsn("postgres"), {"t": pg_cluster.dsn("postgres",
                                                                          MONITOR_ROLE)})

    def read() -> list[dict[str, object]]:
        engine = Engine(CollectorSettings(), None)
        try:
            return engine.read(group, config.targets[0]).rows
        finally:
            engine.close()

    assert read() == [{"line_number": 0, "type": "", "database": "", "user_name": "",
                       "address": "", "netmask": "", "auth_method": "",
                       "error": "not readable"}]
    grants = [f"SELECT ON pg_hba_file_rules {{}} {MONITOR_ROLE}",
              f"EXECUTE ON FUNCTION pg_hba_file_rules() {{}} {MONITOR_ROLE}"]
    for grant in grants:
        admin(pg_cluster, "GRANT " + grant.format("TO"), "postgres")
    try:
        rules = read()
    finally:
        for grant in grants:
            admin(pg_cluster, "REVOKE " + grant.format("FROM"), "postgres")
    # initdb -A trust: local and loopback rules, all trust, none in error.
    assert rules and all(r["error"] == "" and r["line_number"] > 0 for r in rules)
    assert {"local", "host"} <= {r["type"] for r in rules}
    assert {r["auth_method"] for r in rules} == {"trust"}


def test_a_login_role_without_expiry_is_named(cluster: LocalCluster) -> None:
    admin(cluster, "CREATE ROLE reporting_app LOGIN PASSWORD 'x'")
    admin(cluster, "CREATE ROLE rotated_app LOGIN PASSWORD 'x' VALID UNTIL '2099-01-01'")
    check = checks(cluster)["Login roles without password expiry"]
    assert check.state == "warn"
    assert "reporting_app" in check.finding and "rotated_app" not in check.finding
    assert check.finding.startswith("2 roles: ")
    admin(cluster, "ALTER ROLE reporting_app VALID UNTIL '2099-01-01'")
    assert checks(cluster)["Login roles without password expiry"].finding == \
        f"1 role: {MONITOR_ROLE}"
    admin(cluster, f"ALTER ROLE {MONITOR_ROLE} VALID UNTIL '2099-01-01'")
    assert checks(cluster)["Login roles without password expiry"].state == "ok"


def test_public_grants_and_pii_readers(cluster: LocalCluster) -> None:
    found = checks(cluster)
    assert found["PUBLIC may read Kasho's tables"].state == "ok"
    assert found["PUBLIC may CREATE in schema public"].state == "ok"  # PostgreSQL 15 default
    admin(cluster, "GRANT SELECT ON users TO PUBLIC")
    admin(cluster, "GRANT CREATE ON SCHEMA public TO PUBLIC")
    admin(cluster, "CREATE ROLE support_desk LOGIN VALID UNTIL '2099-01-01'")
    admin(cluster, "GRANT SELECT (id, email) ON users TO support_desk")
    found = checks(cluster)
    assert found["PUBLIC may read Kasho's tables"].state == "fail"
    assert "users.email" in found["PUBLIC may read Kasho's tables"].finding
    assert found["PUBLIC may CREATE in schema public"].state == "fail"
    # Through PUBLIC every login role can now read both columns; support_desk by its grant.
    assert "support_desk" in found["Who can read users.email"].finding
    admin(cluster, "REVOKE SELECT ON users FROM PUBLIC")
    admin(cluster, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    found = checks(cluster)
    assert "support_desk" in found["Who can read users.email"].finding
    assert "support_desk" not in found["Who can read users.password_hash"].finding
    assert found["PUBLIC may read Kasho's tables"].state == "ok"
    assert found["Row-level security"].state == "info"
    admin(cluster, "ALTER TABLE users ENABLE ROW LEVEL SECURITY")
    assert "users" not in checks(cluster)["Row-level security"].finding


def test_pgaudit_unloaded_then_loaded(cluster: LocalCluster) -> None:
    found = checks(cluster)
    assert found["pgaudit loaded"].state == "warn"
    assert "pgaudit.log classes" not in found
    admin(cluster, "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, pgaudit",
          "postgres")
    cluster.restart()
    admin(cluster, "CREATE EXTENSION pgaudit")
    found = checks(cluster)
    assert found["pgaudit loaded"].state == "ok"
    assert found["pgaudit.log classes"].state == "warn"  # pgaudit.log = none
    admin(cluster, "ALTER SYSTEM SET pgaudit.log = 'ddl, role, write'", "postgres")
    admin(cluster, "SELECT pg_reload_conf()", "postgres")
    classes = checks(cluster)["pgaudit.log classes"]
    assert classes.state == "ok" and classes.finding == "pgaudit.log = ddl, role, write"
    admin(cluster, "ALTER SYSTEM SET log_connections = on", "postgres")
    admin(cluster, "SELECT pg_reload_conf()", "postgres")
    found = checks(cluster)
    assert found["log_connections"].state == "ok"
    assert found["log_disconnections"].state == "warn"


def test_ssl_with_a_self_signed_certificate_and_a_tls_client(cluster: LocalCluster) -> None:
    found = checks(cluster)
    assert found["ssl"].state == "fail"
    cert, key = cluster.data_dir / "server.crt", cluster.data_dir / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    for path in (cert, key):
        shutil.chown(path, "postgres", "postgres") if cluster.data_dir.owner() == "postgres" \
            else None
        path.chmod(0o600)
    admin(cluster, "ALTER SYSTEM SET ssl = on", "postgres")
    admin(cluster, "SELECT pg_reload_conf()", "postgres")
    with psycopg.connect(cluster.dsn("kasho") + " sslmode=require") as tls_client, \
            psycopg.connect(cluster.dsn("kasho") + " sslmode=disable") as plain_client:
        version = tls_client.execute("SELECT version FROM pg_stat_ssl "
                                     "WHERE pid = pg_backend_pid()").fetchone()
        assert plain_client.info.backend_pid
        found = checks(cluster)
    assert version is not None and version[0].startswith("TLSv1.")
    assert found["ssl"].state == "ok"
    tls = found["Client connections using TLS"]
    assert tls.state == "warn"  # the plain client
    assert f"{version[0]}: " in tls.finding
