"""The one rule for Kasho Ops' own sessions, statements and store database."""

from __future__ import annotations

import pandas as pd
import pytest

from collectors.core.config import parse_config
from dashboard.core.own import OwnActivity, hidden_note, own_activity

OURS = OwnActivity(frozenset({"kasho_ops_monitor"}), frozenset({"kasho_ops"}))
UNKNOWN_ROLES = OwnActivity()


def config(store: str, target: str, actions: str | None = None,  # type: ignore[no-untyped-def]
           **dsns: str):
    item = {"name": "kasho", "dsn": target, **dsns}
    if actions:
        item["actions_dsn"] = actions
    return parse_config({"store": {"dsn": store}, "targets": [item]}, environ={})


def test_roles_and_the_store_database_are_ours_the_marker_alone_is_not() -> None:
    assert OURS.is_own_session("kasho-ops", "kasho_ops_monitor", "kasho")
    assert OURS.is_own_session("psql", "app", "kasho_ops")
    # Anyone can name their session kasho-ops or prefix the marker: with our roles known,
    # that hides nothing.
    assert not OURS.is_own_session("kasho-ops-dashboard", "mallory", "kasho")
    assert not OURS.is_own_statement("/* kasho-ops */ DELETE FROM accounts", "mallory",
                                     "kasho")
    assert OURS.is_own_statement("SELECT 1", "kasho_ops_monitor", "kasho")
    assert not OURS.is_own_statement("SELECT 1", "kasho_app", "kasho")


def test_without_known_roles_the_marker_and_application_name_stand_in() -> None:
    assert UNKNOWN_ROLES.trusts_marker
    assert UNKNOWN_ROLES.is_own_session("kasho-ops-store", "x", "kasho")
    assert UNKNOWN_ROLES.is_own_statement("  /* kasho-ops */ SELECT 1", "x", "kasho")
    assert not UNKNOWN_ROLES.is_own_statement("SELECT 1 /* kasho-ops */", "x", "kasho")
    assert not UNKNOWN_ROLES.is_own_session("psql", "x", "kasho")
    # Where query_marker.marked puts it: after the first keyword.
    assert UNKNOWN_ROLES.is_own_statement("SELECT /* kasho-ops */ 1", "x", "kasho")
    assert not UNKNOWN_ROLES.is_own_statement("SELECT a, /* kasho-ops */ b", "x", "kasho")


def test_own_mask_matches_the_predicates() -> None:
    frame = pd.DataFrame({
        "usename": ["kasho_ops_monitor", "app", "app", "mallory"],
        "datname": ["kasho", "kasho", "kasho_ops", "kasho"],
        "application_name": ["kasho-ops", "api", "psql", "kasho-ops"]})
    for rule in (OURS, UNKNOWN_ROLES):
        expected = [rule.is_own_session(a, r, d) for a, r, d in zip(
            frame["application_name"], frame["usename"], frame["datname"], strict=True)]
        assert rule.own_mask(frame, "usename", "datname",
                             application="application_name").tolist() == expected
    texts = pd.DataFrame({"rolname": ["app"] * 4, "datname": ["kasho"] * 4,
                          "query": ["SELECT /* kasho-ops */ 1", "/* kasho-ops */ SELECT 1",
                                    "SELECT 1 /* kasho-ops */", None]})
    for rule in (OURS, UNKNOWN_ROLES):
        expected = [rule.is_own_statement(q, r, d) for q, r, d in zip(
            texts["query"], texts["rolname"], texts["datname"], strict=True)]
        assert rule.own_mask(texts, "rolname", "datname", text="query").tolist() == expected
    assert UNKNOWN_ROLES.own_mask(texts, "rolname", "datname", text="query").tolist() == [
        True, True, False, False]


@pytest.mark.parametrize(("store", "target", "roles", "databases"), [
    # The store on the monitored server: its database is ours there (not its role, which
    # may be a superuser the application uses too).
    ("host=127.0.0.1 port=5433 dbname=kasho_ops user=postgres",
     "host=localhost port=5433 dbname=kasho user=kasho_ops_monitor",
     {"kasho_ops_monitor"}, {"kasho_ops"}),
    # A store of its own: only the monitoring role.
    ("host=127.0.0.1 port=5434 dbname=kasho_ops user=postgres",
     "host=127.0.0.1 port=5433 dbname=kasho user=kasho_ops_monitor",
     {"kasho_ops_monitor"}, set()),
])
def test_own_activity_from_the_config(store: str, target: str, roles: set[str],
                                      databases: set[str]) -> None:
    cfg = config(store, target)
    own = own_activity(cfg, cfg.targets[0])
    assert (set(own.roles), set(own.databases)) == (roles, databases)


def test_the_actions_role_is_ours_too() -> None:
    cfg = config("host=127.0.2.9 dbname=kasho_ops user=s",
                 "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor",
                 "host=127.0.0.1 dbname=kasho user=kasho_ops_actions")
    assert own_activity(cfg, cfg.targets[0]).roles == {"kasho_ops_monitor",
                                                       "kasho_ops_actions"}


def test_the_explain_and_business_roles_are_ours_too() -> None:
    """The business groups' reads (business_dsn) ran as application statements on Queries
    and as application sessions on Connections until this rule named their role."""
    cfg = config("host=127.0.2.9 dbname=kasho_ops user=s",
                 "host=127.0.0.1 dbname=kasho user=kasho_ops_monitor",
                 explain_dsn="host=127.0.0.1 dbname=kasho user=kasho_ops_explain",
                 business_dsn="host=127.0.0.1 dbname=kasho user=kasho_ops_business")
    own = own_activity(cfg, cfg.targets[0])
    assert own.roles == {"kasho_ops_monitor", "kasho_ops_explain", "kasho_ops_business"}
    assert own.is_own_statement("SELECT /* kasho-ops */ count(*) FROM transactions",
                                "kasho_ops_business", "kasho")


def test_hidden_note_counts_what_was_hidden() -> None:
    assert hidden_note(0, "statement") is None
    assert hidden_note(1, "statement") == (
        "1 Kasho Ops statement hidden · “Show Kasho Ops' own activity” in the sidebar shows "
        "them")
    assert str(hidden_note(12, "statement")).startswith("12 Kasho Ops statements hidden")
    assert str(hidden_note(2, "database (the metrics store)",
                           "databases (the metrics store)")).startswith(
        "2 Kasho Ops databases (the metrics store) hidden")
