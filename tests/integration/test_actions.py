"""Cancel and terminate against real backends, with their audit rows: what was done, what
was refused (disabled, this process's own sessions, server processes, a reused pid), and
that no audit means no action."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest

from collectors.actions.signal import ActionRequest, perform
from collectors.core.access import Actor
from collectors.core.config import Config, parse_config
from collectors.core.connections import TrackedConnection, own_backend_pids
from collectors.core.metric_groups import load_catalog
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE
from tests.integration.activity_setup import wait_for_session
from tests.pg import HeldSession, free_port

# Signalling sessions and the audit trail do not depend on the server version.
pytestmark = pytest.mark.single_major

ACTOR = Actor("dba@kasho.example", "admin")
APP_ROLE = "kasho_app"
ACTIONS_ROLE = "kasho_ops_actions"


@pytest.fixture(scope="module")
def roles(pg_cluster: LocalCluster) -> None:
    """An application role to act on (pg_signal_backend cannot touch superusers) and the
    acting role: pg_signal_backend to signal, pg_read_all_stats to see whom."""
    with psycopg.connect(pg_cluster.dsn(), autocommit=True) as conn:
        for role, grants in ((APP_ROLE, ""), (ACTIONS_ROLE, "pg_signal_backend, pg_read_all_stats"),
                             ("signal_only", "pg_signal_backend"),
                             ("stats_only", "pg_read_all_stats")):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            if not exists:
                conn.execute(f"CREATE ROLE {role} LOGIN")
                if grants:
                    conn.execute(f"GRANT {grants} TO {role}")


def actions_config(cluster: LocalCluster, store_dsn: str, *, enabled: bool = True,
                   actions_role: str | None = ACTIONS_ROLE) -> Config:
    target: dict[str, object] = {"name": "local", "dsn": cluster.dsn("postgres", MONITOR_ROLE)}
    if actions_role:
        target["actions_dsn"] = cluster.dsn("postgres", actions_role)
    return parse_config({"store": {"dsn": store_dsn}, "targets": [target],
                         "dashboard": {"actions_enabled": enabled}},
                        environ={}, known_groups=set(load_catalog()))


@pytest.fixture
def victim(pg_cluster: LocalCluster, roles: None) -> Iterator[HeldSession]:
    session = HeldSession(pg_cluster.dsn("postgres", APP_ROLE), "billing-worker")
    yield session
    if not session.conn.closed:
        session.close()


def backend_start(cluster: LocalCluster, pid: int):
    with psycopg.connect(cluster.dsn()) as conn:
        return conn.execute("SELECT backend_start FROM pg_stat_activity WHERE pid = %s",
                            [pid]).fetchone()[0]


def audit_rows(store_dsn: str) -> list[tuple]:
    with psycopg.connect(store_dsn) as conn:
        return conn.execute("""
            SELECT actor, target, pid, action, outcome, error, usename, application_name,
                   datname, query
            FROM kasho_ops.dba_actions ORDER BY id""").fetchall()


def is_alive(session: HeldSession) -> bool:
    try:
        session.conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def test_cancel_stops_the_running_query_and_keeps_the_session(
        pg_cluster: LocalCluster, fresh_store: str, victim: HeldSession) -> None:
    victim.execute_in_background("SELECT pg_sleep(60) /* card 4111111111111111 */")
    wait_for_session(pg_cluster.dsn(), victim.pid, state="active", wait_event_type="Timeout")
    request = ActionRequest("cancel", "local", victim.pid, ACTOR,
                            backend_start(pg_cluster, victim.pid))
    result = perform(request, actions_config(pg_cluster, fresh_store))
    victim.join()
    assert (result.outcome, result.message) == (
        "signalled", f"pid {victim.pid} on local: cancel signal sent")
    assert isinstance(victim.error, psycopg.errors.QueryCanceled)
    assert is_alive(victim)
    assert audit_rows(fresh_store) == [
        (ACTOR.name, "local", victim.pid, "cancel", "signalled", None, APP_ROLE, "billing-worker",
         "postgres", "SELECT pg_sleep(?) /* card ? */")]


def test_terminate_ends_an_idle_backend(
        pg_cluster: LocalCluster, fresh_store: str, victim: HeldSession) -> None:
    victim.execute("SELECT 'alice@example.com' AS email")
    request = ActionRequest("terminate", "local", victim.pid, ACTOR,
                            backend_start(pg_cluster, victim.pid))
    result = perform(request, actions_config(pg_cluster, fresh_store))
    assert (result.outcome, result.message) == (
        "signalled", f"pid {victim.pid} on local: backend terminated")
    assert not is_alive(victim)
    with psycopg.connect(pg_cluster.dsn()) as conn:  # 14+ waits for the exit before returning
        assert conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                            [victim.pid]).fetchone() == (0,)
    assert audit_rows(fresh_store) == [
        (ACTOR.name, "local", victim.pid, "terminate", "signalled", None, APP_ROLE,
         "billing-worker", "postgres", "SELECT '?' AS email")]


def test_disabled_actions_are_refused_and_audited(
        pg_cluster: LocalCluster, fresh_store: str, victim: HeldSession) -> None:
    request = ActionRequest("terminate", "local", victim.pid, ACTOR)
    result = perform(request, actions_config(pg_cluster, fresh_store, enabled=False))
    assert result.outcome == "refused"
    assert "actions are disabled; set [dashboard] actions_enabled = true" in result.message
    assert is_alive(victim)
    assert audit_rows(fresh_store) == [
        (ACTOR.name, "local", victim.pid, "terminate", "refused", result.message, None, None, None,
         None)]


def test_an_application_name_is_no_shield(pg_cluster: LocalCluster, fresh_store: str,
                                          roles: None) -> None:
    """Anyone can call a session kasho-ops: that alone must not put it out of a DBA's reach."""
    impostor = HeldSession(pg_cluster.dsn("postgres", APP_ROLE), "kasho-ops")
    try:
        result = perform(ActionRequest("terminate", "local", impostor.pid, ACTOR,
                                       backend_start(pg_cluster, impostor.pid)),
                         actions_config(pg_cluster, fresh_store))
        assert (result.outcome, result.message) == (
            "signalled", f"pid {impostor.pid} on local: backend terminated")
        assert not is_alive(impostor)
    finally:
        impostor.conn.close()


def test_this_processs_own_sessions_are_never_signalled(
        pg_cluster: LocalCluster, fresh_store: str, roles: None) -> None:
    ours = TrackedConnection.connect(pg_cluster.dsn("postgres", APP_ROLE),
                                     application_name="looks-like-anyone", autocommit=True)
    pid = ours.info.backend_pid
    try:
        assert pid in own_backend_pids()
        config = actions_config(pg_cluster, fresh_store)
        for action in ("cancel", "terminate"):
            result = perform(ActionRequest(action, "local", pid, ACTOR), config)
            assert (result.outcome, result.message) == (
                "refused", f"pid {pid} is one of this Kasho Ops process's own sessions; "
                           "Kasho Ops never signals its own sessions")
        assert ours.execute("SELECT 1").fetchone() == (1,)
    finally:
        ours.close()
    assert pid not in own_backend_pids()
    assert [(r[2], r[3], r[4], r[7]) for r in audit_rows(fresh_store)] == [
        (pid, "cancel", "refused", "looks-like-anyone"),
        (pid, "terminate", "refused", "looks-like-anyone")]


@pytest.fixture
def wal_sender(pg_cluster: LocalCluster) -> Iterator[int]:
    """A logical-replication connection: a walsender backend, not a client backend."""
    with psycopg.connect(pg_cluster.dsn(), replication="database", autocommit=True) as conn:
        yield conn.info.backend_pid


def server_process(cluster: LocalCluster, backend_type: str) -> int:
    with psycopg.connect(cluster.dsn()) as conn:
        row = conn.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = %s LIMIT 1",
                           [backend_type]).fetchone()
        assert row is not None, backend_type
        return int(row[0])


def test_only_client_backends_are_signalled(pg_cluster: LocalCluster, fresh_store: str,
                                            roles: None, wal_sender: int) -> None:
    config = actions_config(pg_cluster, fresh_store)
    for backend_type, pid in (("walsender", wal_sender),
                              ("autovacuum launcher",
                               server_process(pg_cluster, "autovacuum launcher"))):
        result = perform(ActionRequest("terminate", "local", pid, ACTOR,
                                       backend_start(pg_cluster, pid)), config)
        assert (result.outcome, result.message) == (
            "refused", f"pid {pid} is a {backend_type}, not a client session; only client "
                       "sessions can be cancelled or terminated here")
        assert server_process(pg_cluster, backend_type)  # still there


def test_a_reused_pid_is_refused_and_a_gone_pid_is_not_found(
        pg_cluster: LocalCluster, fresh_store: str, victim: HeldSession) -> None:
    config = actions_config(pg_cluster, fresh_store)
    seen_earlier = backend_start(pg_cluster, victim.pid) - timedelta(seconds=5)
    reused = perform(ActionRequest("terminate", "local", victim.pid, ACTOR, seen_earlier), config)
    assert reused.outcome == "refused"
    assert "now belongs to another backend" in reused.message
    assert is_alive(victim)
    with psycopg.connect(pg_cluster.dsn()) as conn:
        gone_pid = conn.info.backend_pid
    gone = perform(ActionRequest("cancel", "local", gone_pid, ACTOR), config)
    assert (gone.outcome, gone.message) == ("not_found",
                                            f"pid {gone_pid} is not running on local")
    assert [(r[2], r[4]) for r in audit_rows(fresh_store)] == [(victim.pid, "refused"),
                                                             (gone_pid, "not_found")]


@pytest.mark.parametrize(("actions_role", "message"), [
    (None, "target local has no actions_dsn; configure a role with pg_signal_backend"),
    ("stats_only", "member of pg_signal_backend (the actions_dsn role needs "
                   "pg_signal_backend"),
    ("signal_only", "cannot see who pid"),
])
def test_missing_rights_fail_in_one_line_and_are_audited(
        pg_cluster: LocalCluster, fresh_store: str, victim: HeldSession,
        actions_role: str | None, message: str) -> None:
    config = actions_config(pg_cluster, fresh_store, actions_role=actions_role)
    result = perform(ActionRequest("terminate", "local", victim.pid, ACTOR), config)
    assert result.outcome in ("refused", "failed")
    assert message in result.message and "\n" not in result.message
    assert is_alive(victim)
    assert [(r[4], r[5], r[6]) for r in audit_rows(fresh_store)] == [
        (result.outcome, result.message, APP_ROLE if actions_role else None)]


def test_superuser_sessions_cannot_be_signalled_by_the_actions_role(
        pg_cluster: LocalCluster, fresh_store: str, roles: None) -> None:
    admin = HeldSession(pg_cluster.dsn(), "psql")
    try:
        result = perform(ActionRequest("terminate", "local", admin.pid, ACTOR),
                         actions_config(pg_cluster, fresh_store))
        assert result.outcome == "failed"
        assert "no role but a superuser may signal a superuser's session" in result.message
        assert is_alive(admin)
    finally:
        admin.close()


def test_without_an_audit_trail_nothing_is_done(
        pg_cluster: LocalCluster, victim: HeldSession) -> None:
    dead_store = f"host=127.0.0.1 port={free_port()} dbname=kasho_ops user=x password=hunter2"
    result = perform(ActionRequest("terminate", "local", victim.pid, ACTOR),
                     actions_config(pg_cluster, dead_store))
    assert result.outcome == "failed" and not result.audited
    assert result.message.startswith("Nothing was done: the audit trail")
    assert "hunter2" not in result.message
    assert is_alive(victim)


def test_the_audit_table_is_append_only(fresh_store: str) -> None:
    with psycopg.connect(fresh_store, autocommit=True) as conn:
        conn.execute("INSERT INTO kasho_ops.dba_actions (actor, target, pid, action, outcome) "
                     "VALUES ('a', 't', 1, 'cancel', 'refused')")
        for statement in ("UPDATE kasho_ops.dba_actions SET outcome = 'signalled'",
                          "DELETE FROM kasho_ops.dba_actions",
                          "TRUNCATE kasho_ops.dba_actions"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM kasho_ops.dba_actions").fetchone() == (1,)


def test_roles_are_checked_inside_the_action(pg_cluster: LocalCluster, fresh_store: str,
                                              roles: None) -> None:
    """A hidden button is not a check: perform() itself denies a role without the permission,
    records the denial with who asked, and signals nothing."""
    config = actions_config(pg_cluster, fresh_store)
    victim = HeldSession(pg_cluster.dsn("postgres", APP_ROLE), "billing-worker")
    try:
        operator = Actor("otto@kasho.example", "operator")
        viewer = Actor("vera@kasho.example", "viewer")
        terminate = perform(ActionRequest("terminate", "local", victim.pid, operator), config)
        cancel = perform(ActionRequest("cancel", "local", victim.pid, viewer), config)
        assert (terminate.outcome, cancel.outcome) == ("denied", "denied")
        assert terminate.message == ("terminate needs the admin role; otto@kasho.example is "
                                     "an operator")
        assert victim.conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        victim.close()
    with psycopg.connect(fresh_store) as conn:
        assert conn.execute("SELECT actor, actor_role, action, outcome FROM "
                            "kasho_ops.dba_actions ORDER BY id").fetchall() == [
            ("otto@kasho.example", "operator", "terminate", "denied"),
            ("vera@kasho.example", "viewer", "cancel", "denied")]
