"""Who may do what: the three roles, what each permits, and the one check every page and
action makes (`authorize`). Pure: the dashboard works out who is signed in
(dashboard/core/auth.py); the action functions in collectors/actions/ call `authorize`
themselves, so a hidden button is never the only check.

  viewer    every chart and table, statement texts with literals masked; no actions
  operator  a viewer who may also EXPLAIN a statement, cancel a query, silence alerts and
            acknowledge them
  admin     an operator who may also terminate a backend, measure exact bloat
            (pgstattuple), start a restore drill and read the audit trail
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Permission = Literal["view", "explain", "cancel", "terminate", "exact_bloat", "restore_drill",
                     "read_audit", "silence", "acknowledge"]
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)
# The lowest role that holds each permission; every role holds what the roles below hold.
MIN_ROLE: dict[Permission, Role] = {
    "view": "viewer",
    "explain": "operator",
    "cancel": "operator",
    "terminate": "admin",
    "exact_bloat": "admin",
    "restore_drill": "admin",
    "read_audit": "admin",
    "silence": "operator",
    "acknowledge": "operator",
}


class AccessDenied(Exception):
    """The signed-in identity's role does not hold the permission; the message says which."""


@dataclass(frozen=True)
class Actor:
    """Who acts, as the audit trail records it: the signed-in identity and its role."""

    name: str  # e-mail or subject from the identity provider or the trusted proxy header
    role: Role


def role_rank(role: Role) -> int:
    return ROLES.index(role)


def permits(role: Role | None, permission: Permission) -> bool:
    """Does `role` hold `permission`? None (no role) holds nothing."""
    return role is not None and role_rank(role) >= role_rank(MIN_ROLE[permission])


def authorize(actor: Actor | None, permission: Permission) -> None:
    """Raise AccessDenied unless `actor` may `permission`; the one check of every action."""
    if actor is None:
        raise AccessDenied(f"{permission.replace('_', ' ')} needs a signed-in "
                           f"{MIN_ROLE[permission]}; nobody is signed in")
    if not permits(actor.role, permission):
        article = "an" if actor.role[0] in "aeiou" else "a"
        raise AccessDenied(f"{permission.replace('_', ' ')} needs the "
                           f"{MIN_ROLE[permission]} role; {actor.name} is {article} "
                           f"{actor.role}")


def role_for(email: str | None, groups: tuple[str, ...],
             members: dict[Role, tuple[str, ...]]) -> Role | None:
    """The highest role whose member list names the e-mail (case-insensitive) or one of the
    groups (`group:NAME`, exact); None when no list does. E-mails are matched against the
    e-mail entries only, so an identity spelled "group:…" is no group."""
    address = email.strip().lower() if email else None
    for role in reversed(ROLES):
        entries = members.get(role, ())
        named = {e.lower() for e in entries if not e.startswith("group:")}
        member_groups = {e.removeprefix("group:") for e in entries if e.startswith("group:")}
        if (address is not None and address in named) or member_groups.intersection(groups):
            return role
    return None
