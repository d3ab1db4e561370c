"""Who is using the dashboard, and the one check every page and action makes.

`sign_in(config)` runs in app.py before any page: it works out the identity for the
configured `[auth] mode`, stops the run with a sign-in screen or a refusal when there is
none, records the sign-in in kasho_ops.sign_ins (no audit row, no access), and draws the
identity (or, in mode "none", the loopback banner). A reload is a new Streamlit session but
not a new sign-in: each row carries a key (`sign_in_key`: identity, role, the login's issue
time, the browser's XSRF token, the client's address) and a key already recorded adds
nothing. `require(permission)` is what a
page or an action handler calls: it stops the run for a role that lacks the permission and
returns the Actor the action functions check again and record.

  none   nobody signs in; allowed only while the dashboard binds to loopback (the config
         refuses anything else) and everyone gets `[auth] none_role`, under a banner
  proxy  an authenticating reverse proxy sets the user (and groups) header; it is believed
         only when the TCP peer of the browser's connection is one of
         `[auth.proxy] trusted_addresses` (the raw peer: `kasho-ops dashboard` turns off
         uvicorn's X-Forwarded-For rewriting)
  oidc   st.login with the provider `kasho-ops dashboard` writes into a private
         secrets.toml; e-mail and groups come from the ID token's claims
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
import streamlit as st

from collectors.actions.audit import connect_audit
from collectors.core.access import Actor, Permission, Role, permits, role_for
from collectors.core.config import AuthSettings, Config, ProxySettings
from collectors.core.connections import describe_error
from dashboard.core.plain import md

log = logging.getLogger(__name__)
ACTOR_KEY = "kasho_ops.actor"
SIGNED_IN_KEY = "kasho_ops.sign_in_recorded"
NONE_MODE_NAME = "anonymous (auth mode none, loopback)"
XSRF_COOKIE = "_streamlit_xsrf"  # set by Streamlit on the page load, kept across reloads


@dataclass(frozen=True)
class SignInResult:
    """What the request proved: an actor, or why not (and who asked, if anyone)."""

    actor: Actor | None
    claimed: str | None = None  # the identity presented, even when it gets no role
    reason: str | None = None  # why there is no actor
    login: str = ""  # what changes with each real login (OIDC: issuer, subject, issue time)
    client: str | None = None  # the browser's address (from a trusted proxy: what it says)


def peer_is_trusted(peer: str | None, trusted: Iterable[str]) -> bool:
    """Is the TCP peer one of the trusted proxy addresses or networks?"""
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(t, strict=False) for t in trusted)


def split_groups(value: Any) -> tuple[str, ...]:
    """Groups from a claim (a list) or a header (comma-separated)."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def proxy_identity(headers: Mapping[str, str], peer: str | None, proxy: ProxySettings,
                   members: dict[Role, tuple[str, ...]]) -> SignInResult:
    """The identity a trusted proxy vouches for. Pure."""
    lowered = {k.lower(): v for k, v in headers.items()}
    claimed = lowered.get(proxy.user_header.lower(), "").strip() or None
    if not peer_is_trusted(peer, proxy.trusted_addresses):
        source = peer or "an unknown address"
        return SignInResult(None, claimed, f"this connection comes from {source}, not from a "
                            "trusted proxy; sign in through the company's proxy")
    if not claimed:
        return SignInResult(None, None, f"the proxy sent no {proxy.user_header} header; "
                            "check its configuration")
    role = role_for(claimed, split_groups(lowered.get(proxy.groups_header.lower())), members)
    forwarded = lowered.get("x-forwarded-for", "").split(",")[0].strip() or peer
    if role is None:
        return SignInResult(None, claimed, f"{claimed} has no role here; an admin can add "
                            "the address (or one of its groups) to [auth.roles]",
                            client=forwarded)
    return SignInResult(Actor(claimed, role), claimed, client=forwarded)


def oidc_identity(user: Mapping[str, Any], groups_claim: str,
                  members: dict[Role, tuple[str, ...]]) -> SignInResult:
    """The identity in the ID token's claims (st.user). Pure."""
    if not user.get("is_logged_in", False):
        return SignInResult(None, None, "not signed in")
    email = user.get("email")
    claimed = str(email or user.get("sub") or "").strip() or None
    if claimed is None:
        return SignInResult(None, None, "the identity provider sent neither email nor sub")
    role = role_for(str(email) if email else None, split_groups(user.get(groups_claim)),
                    members)
    login = "|".join(str(user.get(claim, "")) for claim in ("iss", "sub", "iat"))
    if role is None:
        return SignInResult(None, claimed, f"{claimed} has no role here; an admin can add "
                            "the address (or one of its groups) to [auth.roles]", login)
    return SignInResult(Actor(claimed, role), claimed, login=login)


def browser_token(xsrf_cookie: str | None) -> str | None:
    """The browser's XSRF token from Streamlit's cookie: the cookie is re-masked on every
    response ("2|mask|masked token|time"), the token and its time stay. Pure."""
    if not xsrf_cookie:
        return None
    parts = xsrf_cookie.strip("\"'").split("|")
    if len(parts) != 4 or parts[0] != "2":
        return xsrf_cookie  # an unmasked (version 1) token is the token
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if not mask or not masked:
        return None
    return bytes(b ^ mask[i % len(mask)] for i, b in enumerate(masked)).hex() + "|" + parts[3]


def sign_in_key(mode: str, result: SignInResult, role: Role | None,
                browser: str | None) -> str | None:
    """What one browser's sign-in keeps across reloads, hashed; None (record every session)
    without a browser token. A new login, another browser or another address differs."""
    if browser is None or result.claimed is None:
        return None
    parts = (mode, result.claimed, role or "", result.login, browser, result.client or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _peer_address() -> str | None:
    # The raw TCP peer of the browser's WebSocket; st.context.ip_address hides loopback.
    from streamlit.runtime.context import _get_client_context

    client = _get_client_context()
    return client.remote_ip if client is not None else None


def _identify(auth: AuthSettings) -> SignInResult:
    if auth.mode == "none":
        return SignInResult(Actor(NONE_MODE_NAME, auth.none_role), None)
    if auth.mode == "proxy":
        assert auth.proxy is not None
        return proxy_identity(st.context.headers.to_dict(), _peer_address(), auth.proxy,
                              auth.members)
    assert auth.oidc is not None
    result = oidc_identity(st.user.to_dict(), auth.oidc.groups_claim, auth.members)
    return SignInResult(result.actor, result.claimed, result.reason, result.login,
                        _peer_address())


def _session_key(config: Config, result: SignInResult) -> str | None:
    role = result.actor.role if result.actor else None
    return sign_in_key(config.auth.mode, result, role,
                       browser_token(st.context.cookies.get(XSRF_COOKIE)))


def record_sign_in(config: Config, name: str, role: Role | None, outcome: str,
                   detail: str | None, session_key: str | None = None) -> None:
    """Append one row to kasho_ops.sign_ins (none when `session_key` is already recorded
    with this outcome); raises psycopg.Error if it cannot."""
    with connect_audit(config.store.audit_writer_dsn, "sign_ins") as conn:
        conn.execute("""
            INSERT INTO kasho_ops.sign_ins
                (identity, role, mode, peer_address, outcome, detail, session_key)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT DO NOTHING""",
            [name, role, config.auth.mode, _peer_address(), outcome, detail, session_key])


def sign_in(config: Config) -> Actor:
    """The signed-in actor of this session; stops the run when there is none."""
    result = _identify(config.auth)
    if result.actor is None:
        _refuse(config, result)
        st.stop()
    actor = result.actor
    if config.auth.mode != "none" and st.session_state.get(SIGNED_IN_KEY) != actor:
        try:
            record_sign_in(config, actor.name, actor.role, "signed_in", None,
                           _session_key(config, result))
        except psycopg.Error as exc:
            st.error("Sign-in could not be recorded in the audit trail (kasho_ops.sign_ins), "
                     f"so the dashboard stays closed: {md(describe_error(exc))}",
                     icon=":material/lock:")
            st.stop()
        st.session_state[SIGNED_IN_KEY] = actor
    st.session_state[ACTOR_KEY] = actor
    _identity_panel(config, actor)
    return actor


def _refuse(config: Config, result: SignInResult) -> None:
    if config.auth.mode == "oidc" and result.claimed is None:
        st.title("Kasho Ops")
        st.write("Sign in with your company account to see the dashboard.")
        st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login)
        return
    st.title("Kasho Ops")
    st.error(f"No access: {md(result.reason)}", icon=":material/lock:")
    if result.claimed is not None and not st.session_state.get(SIGNED_IN_KEY + ".denied"):
        try:
            record_sign_in(config, result.claimed, None, "denied", result.reason,
                           _session_key(config, result))
            st.session_state[SIGNED_IN_KEY + ".denied"] = True
        except psycopg.Error as exc:
            log.error("denied sign-in of %s not audited: %s", result.claimed,
                      describe_error(exc))
    if config.auth.mode == "oidc":
        st.button("Sign out", on_click=_sign_out, args=(config, None))


def _sign_out(config: Config, actor: Actor | None) -> None:
    if actor is not None:
        try:
            record_sign_in(config, actor.name, actor.role, "signed_out", None)
        except psycopg.Error as exc:
            log.error("sign-out of %s not audited: %s", actor.name, describe_error(exc))
    st.session_state.pop(SIGNED_IN_KEY, None)
    st.logout()


def _identity_panel(config: Config, actor: Actor) -> None:
    if config.auth.mode == "none":
        article = "an" if actor.role in ("admin", "operator") else "a"
        st.badge(f"No sign-in (auth mode none): anyone who can reach this loopback address "
                 f"is {article} {md(actor.role)}. Set up oidc or proxy sign-in before sharing the "
                 "dashboard.",
                 icon=":material/no_encryption:", color="orange")
        return
    st.sidebar.text(f"{actor.name} · {actor.role}")
    if config.auth.mode == "oidc":
        st.sidebar.button("Sign out", icon=":material/logout:", on_click=_sign_out,
                          args=(config, actor), key="kasho_ops_sign_out")


def current_actor() -> Actor | None:
    """The actor sign_in established for this run (None outside the app)."""
    actor = st.session_state.get(ACTOR_KEY)
    return actor if isinstance(actor, Actor) else None


def allowed(permission: Permission) -> bool:
    """May the signed-in actor do this? For drawing controls; actions check again."""
    actor = current_actor()
    return actor is not None and permits(actor.role, permission)


def require(permission: Permission) -> Actor:
    """The signed-in actor, if their role holds `permission`; else stop the run with why."""
    actor = current_actor()
    if actor is None or not permits(actor.role, permission):
        who = f"{actor.name} ({actor.role})" if actor else "nobody signed in"
        st.error(f"Not allowed: this needs a role with {md(permission.replace('_', ' '))}; "
                 f"you are {md(who)}.", icon=":material/block:")
        st.stop()
    return actor
