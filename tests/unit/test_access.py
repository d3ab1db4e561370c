"""Who may do what (collectors/core/access.py): the role ladder, `authorize` (the one check
inside every action) and the mapping of e-mails and groups to roles."""

from __future__ import annotations

import pytest

from collectors.core.access import (
    MIN_ROLE,
    PERMISSIONS,
    ROLES,
    AccessDenied,
    Actor,
    authorize,
    permits,
    role_for,
)

# The issues' table: viewers see, operators also EXPLAIN, cancel, silence and acknowledge
# alerts (issue 12), admins also terminate, measure exact bloat, start a restore drill and
# read the audit trail.
OPERATOR = {"view", "explain", "cancel", "silence", "acknowledge"}
EXPECTED = {
    "viewer": {"view"},
    "operator": OPERATOR,
    "admin": OPERATOR | {"terminate", "exact_bloat", "restore_drill", "read_audit"},
}
MEMBERS = {"viewer": ("vera@kasho.example", "group:finance"),
           "operator": ("Otto@Kasho.example", "group:kasho-oncall"),
           "admin": ("group:kasho-dba",)}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_holds_exactly_its_permissions(role: str) -> None:
    assert {p for p in PERMISSIONS if permits(role, p)} == EXPECTED[role]  # type: ignore[arg-type]


def test_every_permission_has_a_lowest_role_and_nobody_holds_anything() -> None:
    assert set(MIN_ROLE) == set(PERMISSIONS)
    assert not any(permits(None, p) for p in PERMISSIONS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("permission", PERMISSIONS)
def test_authorize_agrees_with_permits(role: str, permission: str) -> None:
    actor = Actor("someone@kasho.example", role)  # type: ignore[arg-type]
    if permission in EXPECTED[role]:
        authorize(actor, permission)  # type: ignore[arg-type]
    else:
        with pytest.raises(AccessDenied):
            authorize(actor, permission)  # type: ignore[arg-type]


def test_a_refusal_says_what_is_needed_and_who_asked() -> None:
    with pytest.raises(AccessDenied, match=r"^terminate needs the admin role; "
                                           r"otto@kasho\.example is an operator$"):
        authorize(Actor("otto@kasho.example", "operator"), "terminate")
    with pytest.raises(AccessDenied, match=r"^exact bloat needs a signed-in admin; "
                                           r"nobody is signed in$"):
        authorize(None, "exact_bloat")


def test_roles_come_from_e_mails_case_insensitively_and_from_groups() -> None:
    assert role_for("vera@kasho.example", (), MEMBERS) == "viewer"
    assert role_for("otto@KASHO.example", (), MEMBERS) == "operator"
    assert role_for(" otto@kasho.example ", (), MEMBERS) == "operator"
    assert role_for(None, ("finance",), MEMBERS) == "viewer"
    assert role_for("someone@kasho.example", ("kasho-dba",), MEMBERS) == "admin"


def test_the_highest_matching_role_wins() -> None:
    assert role_for("vera@kasho.example", ("kasho-dba",), MEMBERS) == "admin"
    assert role_for("otto@kasho.example", ("finance",), MEMBERS) == "operator"


def test_nobody_else_gets_a_role() -> None:
    assert role_for("mallory@elsewhere.example", ("contractors",), MEMBERS) is None
    assert role_for(None, (), MEMBERS) is None
    # A group is only a group when the config says group:; an e-mail entry is no group.
    assert role_for(None, ("vera@kasho.example",), MEMBERS) is None
    # Group names are exact: case matters to identity providers.
    assert role_for(None, ("Kasho-DBA",), MEMBERS) is None
    assert role_for("group:kasho-dba", (), MEMBERS) is None
