"""`kasho-ops doctor` and `kasho-ops audit`, run as commands on real clusters (issue 11 §1, §3):
doctor exits 0 when every metric group works and 1 with the one-line fixes otherwise; audit
prints the trail as JSON lines, oldest first, from the given time on."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from demo.cluster import LocalCluster
from tests.conftest import KashoDatabase
from tests.integration.collector_setup import monitor_dsn, write_config_file
from tests.pg import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BARE_ROLE = "kasho_ops_bare"  # can log in, nothing more


def kasho_ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "collectors.cli", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def bare_role(pg_cluster: LocalCluster) -> str:
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                            [BARE_ROLE]).fetchone():
            conn.execute(f"CREATE ROLE {BARE_ROLE} LOGIN")
    return BARE_ROLE


@pytest.mark.single_major  # PostgreSQL 15 as Kasho runs it (the 18 wheel lacks libxml)
def test_doctor_exits_0_when_everything_works(pg_cluster: LocalCluster, fresh_store: str,
                                              kasho_database: KashoDatabase,
                                              tmp_path: Path) -> None:
    """Every group as the collector reads it: bound parameters, the business groups through
    the business role with their incremental windows."""
    config = write_config_file(tmp_path / "k.toml", fresh_store,
                               {"kasho-primary": monitor_dsn(pg_cluster)},
                               business={"kasho-primary": kasho_database.business_dsn})
    done = kasho_ops("doctor", "--config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kasho-primary: ")
    working, _, total = lines[0].split(": ")[1].removesuffix(" work").partition(" of ")
    assert working == total and int(total) > 10


def test_doctor_names_each_problem_with_its_fix_and_exits_1(
        pg_cluster: LocalCluster, fresh_store: str, fresh_database: str, bare_role: str,
        tmp_path: Path) -> None:
    host = f"host=127.0.0.1 port={pg_cluster.port}"
    config = write_config_file(tmp_path / "k.toml", fresh_store, {
        "kasho-primary": monitor_dsn(pg_cluster),
        # no pg_monitor, and a database without pg_stat_statements
        "kasho-bare": f"{host} dbname={fresh_database} user={bare_role}",
        "kasho-gone": f"host=127.0.0.1 port={free_port()} dbname=x user=y connect_timeout=2",
    })
    done = kasho_ops("doctor", "--config", str(config))
    assert done.returncode == 1
    report = done.stdout
    assert f"  role {bare_role}: pg_monitor: {bare_role} is not a member of pg_monitor\n" \
           f"    fix: GRANT pg_monitor TO {bare_role};" in report
    assert f"    fix: GRANT pg_read_all_stats TO {bare_role};  -- or pg_monitor" in report
    assert "  query_stats: pg_stat_statements is not installed in database " \
           f"{fresh_database}" in report
    assert "CREATE EXTENSION pg_stat_statements" in report
    assert "kasho-gone: 0 of 1 work\n  connection: " in report
    # Without business_dsn the Business pages stay empty: said once, with the fix.
    assert "  business groups (" in report
    assert "fix: set business_dsn on the target" in report
    assert "fix: check the target's dsn, the password source and pg_hba.conf" in report
    # No group of the other kind (PgBouncer's admin console) is tried on a server.
    assert "pgbouncer_" not in report

    bare = kasho_ops("doctor", "--config", str(config), "--target", "kasho-bare")
    assert bare.returncode == 1 and bare.stdout.startswith("kasho-bare: ")
    assert "kasho-primary" not in bare.stdout
    unknown = kasho_ops("doctor", "--config", str(config), "--target", "nope")
    assert unknown.returncode != 0 and unknown.stdout == ""
    assert unknown.stderr.strip() == ("kasho-ops: error: no target named 'nope'; configured "
                                      "targets: kasho-primary, kasho-bare, kasho-gone")


@pytest.mark.single_major
def test_doctor_names_a_table_the_role_may_not_read(pg_cluster: LocalCluster,
                                                    fresh_database: str, bare_role: str) -> None:
    """A group reading a table is fixed with SELECT on that table, not a predefined role."""
    from collectors.core.config import parse_config
    from collectors.core.metric_groups import load_catalog
    from collectors.core.probe import probe_target

    with psycopg.connect(pg_cluster.dsn(fresh_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE ledger (id int)")
    group = next(iter(load_catalog().values()))
    reading = replace(group, name="ledger_rows", target_kind="postgres", extension=None,
                      sql_by_major=((13, "SELECT count(*) AS n FROM ledger"),))
    config = parse_config({"store": {"dsn": "host=127.0.0.1 dbname=x"}, "targets": [
        {"name": "t", "dsn": f"host=127.0.0.1 port={pg_cluster.port} "
                             f"dbname={fresh_database} user={bare_role}"}]})
    (finding,) = [f for f in probe_target(config, "t", [reading]).findings
                  if f.subject == "ledger_rows"]
    assert not finding.ok
    assert finding.problem.startswith("permission denied for table ledger")
    assert finding.fix == f"GRANT SELECT ON ledger TO {bare_role};"


@pytest.mark.single_major
def test_audit_prints_json_lines_oldest_first(fresh_store: str, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO kasho_ops.sign_ins (at, identity, role, mode, peer_address, outcome)
            VALUES (%(old)s, 'old@kasho.example', 'viewer', 'oidc', '127.0.0.1', 'signed_in'),
                   (%(t1)s, 'ada@kasho.example', 'admin', 'oidc', '127.0.0.1', 'signed_in'),
                   (%(t3)s, 'mallory@elsewhere.example', NULL, 'oidc', '127.0.0.1', 'denied')""",
                     {"old": now - timedelta(days=3), "t1": now - timedelta(hours=2),
                      "t3": now - timedelta(minutes=5)})
        conn.execute("""
            INSERT INTO kasho_ops.dba_actions (acted_at, actor, actor_role, target, pid, action,
                                               outcome, usename, application_name, datname)
            VALUES (%s, 'ada@kasho.example', 'admin', 'kasho-primary', 4242, 'terminate',
                    'signalled', 'kasho_app', 'billing "worker"', 'kasho')""",
                     [now - timedelta(hours=1)])
    config = write_config_file(tmp_path / "k.toml", fresh_store, {})
    done = kasho_ops("audit", "--config", str(config), "--since", "24h")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["kind"], r["actor"], r["action"], r["outcome"]) for r in rows] == [
        ("sign_in", "ada@kasho.example", "signed_in", "signed_in"),
        ("dba_action", "ada@kasho.example", "terminate", "signalled"),
        ("sign_in", "mallory@elsewhere.example", "denied", "denied"),
    ]
    assert set(rows[1]) == {"at", "kind", "actor", "actor_role", "target", "action",
                            "outcome", "detail"}
    assert rows[1]["target"] == "kasho-primary" and rows[1]["actor_role"] == "admin"
    assert 'application billing "worker"' in rows[1]["detail"]
    assert datetime.fromisoformat(rows[0]["at"]) < datetime.fromisoformat(rows[1]["at"])
    assert rows[0]["at"].endswith("+00:00")

    only = kasho_ops("audit", "--config", str(config), "--since", "7d", "--kind", "sign_in")
    assert [json.loads(line)["actor"] for line in only.stdout.splitlines()] == [
        "old@kasho.example", "ada@kasho.example", "mallory@elsewhere.example"]
    since = (now - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ")
    recent = kasho_ops("audit", "--config", str(config), "--since", since)
    assert [json.loads(line)["actor"] for line in recent.stdout.splitlines()] == [
        "mallory@elsewhere.example"]
    bad = kasho_ops("audit", "--config", str(config), "--since", "yesterday")
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.strip() == ("kasho-ops: error: --since 'yesterday' is neither an age "
                                  "(30m, 24h, 7d) nor an ISO time (2026-05-01T00:00Z)")


@pytest.mark.single_major
def test_audit_with_the_store_down_is_one_line(tmp_path: Path) -> None:
    down = f"host=127.0.0.1 port={free_port()} dbname=kasho_ops user=ops password=hunter2"
    config = write_config_file(tmp_path / "k.toml", down, {})
    done = kasho_ops("audit", "--config", str(config), "--since", "1h")
    assert done.returncode != 0 and done.stdout == ""
    # The config's own warning (a password written in the dsn) may come first.
    errors = [line for line in done.stderr.splitlines() if "WARNING" not in line]
    assert len(errors) == 1 and errors[0].startswith(
        "kasho-ops: error: cannot read the audit trail from the metrics store")
    assert "hunter2" not in done.stderr


@pytest.mark.single_major
def test_audit_lists_every_audited_action(fresh_store: str, tmp_path: Path) -> None:
    """Exact bloat, index advice, silences and acknowledgements and restore drills are in the
    trail beside sign-ins, cancel/terminate and EXPLAIN (kasho_ops.audit_log, 0079)."""
    now = datetime.now(UTC)
    at = {f"t{i}": now - timedelta(minutes=50 - i) for i in range(6)}
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        conn.execute("""
            INSERT INTO kasho_ops.bloat_measurements (measured_at, actor, actor_role, target,
                datname, schemaname, relname, kind, method, outcome)
            VALUES (%(t0)s, 'ada@kasho.example', 'admin', 'kasho-primary', 'kasho', 'public',
                    'transactions', 'table', 'pgstattuple', 'measured'),
                   (%(t1)s, 'otto@kasho.example', 'operator', 'kasho-primary', 'kasho',
                    'public', 'users', 'table', NULL, 'denied')""", at)
        conn.execute("""
            INSERT INTO kasho_ops.index_advice_runs (advised_at, actor, actor_role, target,
                datname, queryid, outcome, suggested_index)
            VALUES (%(t2)s, 'otto@kasho.example', 'operator', 'kasho-primary', 'kasho', 42,
                    'advised', 'CREATE INDEX ON transactions (account_id)')""", at)
        conn.execute("""
            INSERT INTO kasho_ops.alert_actions (at, actor, actor_role, action, outcome,
                                                 target, alert_id, comment)
            VALUES (%(t3)s, 'otto@kasho.example', 'operator', 'acknowledge', 'done',
                    'kasho-primary', 7, 'on it'),
                   (%(t4)s, 'vera@kasho.example', 'viewer', 'silence', 'denied',
                    'kasho-primary', NULL, 'quiet please')""", at)
        conn.execute("""
            INSERT INTO kasho_ops.restore_drills (target, stanza, started_at, finished_at,
                duration_seconds, trigger, outcome, checks, row_counts, error)
            VALUES ('kasho-primary', 'kasho', %(t5)s, %(t5)s, 12.5, 'schedule', 'failed',
                    '[]', '{}', 'no backup')""", at)
    config = write_config_file(tmp_path / "k.toml", fresh_store, {})
    done = kasho_ops("audit", "--config", str(config), "--since", "1h")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["kind"], r["actor"], r["actor_role"], r["action"], r["outcome"])
            for r in rows] == [
        ("exact_bloat", "ada@kasho.example", "admin", "exact_bloat", "measured"),
        ("exact_bloat", "otto@kasho.example", "operator", "exact_bloat", "denied"),
        ("index_advice", "otto@kasho.example", "operator", "index_advice", "advised"),
        ("alert", "otto@kasho.example", "operator", "acknowledge", "done"),
        ("alert", "vera@kasho.example", "viewer", "silence", "denied"),
        ("restore_drill", "collector schedule", None, "restore_drill", "failed"),
    ]
    assert "relation public.transactions" in rows[0]["detail"]
    assert "index CREATE INDEX ON transactions (account_id)" in rows[2]["detail"]
    assert rows[3]["detail"] == "alert 7 · on it"
    assert rows[4]["detail"] == "quiet please"
    assert rows[5]["detail"] == "stanza kasho · no backup"
    drills = kasho_ops("audit", "--config", str(config), "--since", "1h",
                       "--kind", "restore_drill", "--kind", "alert")
    assert [json.loads(line)["kind"] for line in drills.stdout.splitlines()] == [
        "alert", "alert", "restore_drill"]
