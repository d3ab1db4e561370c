"""EXPLAIN plans every statement the demo workload sends (whatever demo/workload/ holds), as
pg_stat_statements normalized it, through the demo's explain_dsn role on PostgreSQL 15."""

from __future__ import annotations

from pathlib import Path

import psycopg

from collectors.actions.explain import ExplainRefused, check_statement, explain
from collectors.core.config import parse_config
from collectors.core.metric_groups import load_catalog
from demo.cluster import LocalCluster
from demo.explain_role import EXPLAIN_ROLE, grant_explain_role
from demo.workload import start_workload
from tests.conftest import MONITOR_ROLE
from tests.integration.test_workload import (  # noqa: F401  (the seeded database)
    admin_dsn,
    seeded_dsn,
)

DBID = "(SELECT oid FROM pg_database WHERE datname = %s)"


def workload_statements(superuser_dsn: str, dbname: str) -> list[str]:
    """The database's top-level statements in pg_stat_statements that EXPLAIN accepts."""
    with psycopg.connect(superuser_dsn) as conn:
        rows = conn.execute(f"SELECT query FROM pg_stat_statements WHERE toplevel AND dbid = "
                            f"{DBID} ORDER BY queryid", [dbname]).fetchall()
    statements = []
    for (text,) in rows:
        try:
            check_statement(text)
        except ExplainRefused:
            continue  # BEGIN, END, utility statements: nothing to plan
        statements.append(text)
    return statements


def test_every_workload_statement_gets_a_plan(pg_cluster: LocalCluster,
                                              admin_dsn: str,  # noqa: F811
                                              seeded_dsn: str,  # noqa: F811
                                              store_dsn: str, tmp_path: Path) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(admin_dsn)["dbname"]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        grant_explain_role(conn)
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:  # the seeding is not ours
        conn.execute(f"SELECT pg_stat_statements_reset(0, {DBID}, 0)", [dbname])
    workload = start_workload(seeded_dsn, clients=2, duration_seconds=3,
                              log_path=tmp_path / "pgbench.log")
    assert workload.wait(120) == 0, workload.log_path.read_text()
    statements = workload_statements(pg_cluster.dsn(), dbname)
    scripts = sorted(Path("demo/workload").glob("*.sql"))
    assert len(statements) >= len(scripts), statements  # every script sends one at least
    config = parse_config({"store": {"dsn": store_dsn}, "targets": [{
        "name": "demo", "dsn": pg_cluster.dsn("postgres", MONITOR_ROLE),
        "explain_dsn": pg_cluster.dsn("postgres", EXPLAIN_ROLE)}]},
        environ={}, known_groups=set(load_catalog()))
    failures = {}
    for text in statements:
        try:
            plan = explain(config.targets[0], config.collector, dbname, text)
        except ExplainRefused as exc:
            failures[text] = str(exc)
            continue
        assert plan.generic and plan.plan
    assert failures == {}
