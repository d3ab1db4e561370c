"""The dashboard's sign-in decisions (dashboard/core/auth.py), pure parts: which TCP peer is a
trusted proxy, what a proxy's headers and an ID token's claims prove, and the key that keeps
one sign-in row per browser sign-in."""

from __future__ import annotations

import binascii
import os

import pytest

from collectors.core.access import Actor
from collectors.core.config import ProxySettings
from dashboard.core.auth import (
    SignInResult,
    browser_token,
    oidc_identity,
    peer_is_trusted,
    proxy_identity,
    sign_in_key,
    split_groups,
)

MEMBERS = {"viewer": ("vera@kasho.example",), "operator": ("group:kasho-oncall",),
           "admin": ("group:kasho-dba",)}
PROXY = ProxySettings(trusted_addresses=("127.0.2.5", "127.0.17.0/24", "::1"))


@pytest.mark.parametrize(("peer", "trusted"), [
    ("127.0.2.5", True), ("127.0.17.200", True), ("::1", True),
    ("127.0.2.6", False), ("127.0.18.1", False), ("127.0.0.1", False),
    ("", False), (None, False), ("not-an-address", False), ("127.0.2.5, 127.0.9.4", False),
])
def test_only_the_configured_proxy_addresses_are_trusted(peer: str | None,
                                                         trusted: bool) -> None:
    assert peer_is_trusted(peer, PROXY.trusted_addresses) is trusted


def test_groups_from_a_claim_list_or_a_comma_separated_header() -> None:
    assert split_groups(["kasho-dba", " finance "]) == ("kasho-dba", "finance")
    assert split_groups("kasho-dba, finance,,") == ("kasho-dba", "finance")
    assert split_groups(None) == ()
    assert split_groups("") == ()


def test_a_trusted_proxy_vouches_for_the_user_and_groups_headers() -> None:
    result = proxy_identity({"x-forwarded-email": "ada@kasho.example",
                             "X-Forwarded-Groups": "staff,kasho-dba",
                             "X-Forwarded-For": "127.0.113.9, 127.0.2.5"},
                            "127.0.2.5", PROXY, MEMBERS)
    assert result.actor == Actor("ada@kasho.example", "admin")
    assert result.client == "127.0.113.9"  # what the trusted proxy says, for the sign-in key


def test_headers_from_anyone_else_prove_nothing() -> None:
    headers = {"X-Forwarded-Email": "ada@kasho.example", "X-Forwarded-Groups": "kasho-dba",
               "X-Forwarded-For": "127.0.2.5"}
    result = proxy_identity(headers, "127.0.0.1", PROXY, MEMBERS)
    assert result.actor is None
    assert result.claimed == "ada@kasho.example"  # recorded as a denied sign-in
    assert result.reason == ("this connection comes from 127.0.0.1, not from a trusted proxy; "
                             "sign in through the company's proxy")
    assert proxy_identity(headers, None, PROXY, MEMBERS).actor is None


def test_a_trusted_proxy_without_a_user_or_with_a_stranger() -> None:
    empty = proxy_identity({"X-Forwarded-Email": "  "}, "127.0.2.5", PROXY, MEMBERS)
    assert empty.actor is None and empty.claimed is None
    assert empty.reason == "the proxy sent no X-Forwarded-Email header; check its configuration"
    stranger = proxy_identity({"X-Forwarded-Email": "mallory@elsewhere.example"}, "127.0.2.5",
                              PROXY, MEMBERS)
    assert stranger.actor is None and stranger.claimed == "mallory@elsewhere.example"
    assert "has no role here" in str(stranger.reason)


def test_custom_header_names() -> None:
    proxy = ProxySettings(("127.0.2.5",), user_header="X-Auth-Request-Email",
                          groups_header="X-Auth-Request-Groups")
    result = proxy_identity({"x-auth-request-email": "otto@kasho.example",
                             "x-auth-request-groups": "kasho-oncall",
                             "X-Forwarded-Email": "ada@kasho.example"}, "127.0.2.5", proxy,
                            MEMBERS)
    assert result.actor == Actor("otto@kasho.example", "operator")


def test_oidc_claims_give_the_role() -> None:
    claims = {"is_logged_in": True, "email": "vera@kasho.example", "sub": "vera",
              "iss": "https://idp.example", "iat": 1700000000, "groups": ["finance"]}
    result = oidc_identity(claims, "groups", MEMBERS)
    assert result.actor == Actor("vera@kasho.example", "viewer")
    assert result.login == "https://idp.example|vera|1700000000"
    admin = oidc_identity({**claims, "roles": ["kasho-dba"]}, "roles", MEMBERS)
    assert admin.actor == Actor("vera@kasho.example", "admin")


def test_oidc_without_a_login_or_an_identity() -> None:
    assert oidc_identity({"is_logged_in": False}, "groups", MEMBERS) == SignInResult(
        None, None, "not signed in")
    nameless = oidc_identity({"is_logged_in": True}, "groups", MEMBERS)
    assert nameless.actor is None and nameless.claimed is None
    # No e-mail: the subject names the refusal, and gets no e-mail role.
    subject = oidc_identity({"is_logged_in": True, "sub": "vera@kasho.example"}, "groups",
                            MEMBERS)
    assert subject.actor is None and subject.claimed == "vera@kasho.example"
    # A group claim holding an e-mail is no e-mail.
    spoof = oidc_identity({"is_logged_in": True, "email": "x@kasho.example",
                           "groups": ["vera@kasho.example"]}, "groups", MEMBERS)
    assert spoof.actor is None


def masked_cookie(token: bytes, timestamp: int) -> str:
    """Streamlit's XSRF cookie format: 2|mask|token XOR mask|time, with a fresh mask."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    return f"2|{binascii.hexlify(mask).decode()}|{binascii.hexlify(masked).decode()}|{timestamp}"


def test_the_browser_token_survives_remasking() -> None:
    token = os.urandom(16)
    first, second = masked_cookie(token, 1700000000), masked_cookie(token, 1700000000)
    assert first != second
    assert browser_token(first) == browser_token(second) == f"{token.hex()}|1700000000"
    assert browser_token(masked_cookie(os.urandom(16), 1700000000)) != browser_token(first)
    assert browser_token(None) is None and browser_token("") is None
    assert browser_token("2|zz|yy|1") is None
    assert browser_token("plain-v1-token") == "plain-v1-token"


def test_one_key_per_browser_sign_in() -> None:
    actor = Actor("ada@kasho.example", "admin")
    base = SignInResult(actor, actor.name, login="idp|ada|1700000000", client="127.0.113.9")
    key = sign_in_key("oidc", base, "admin", "token-a")
    assert key is not None and len(key) == 64 and "ada" not in key
    assert sign_in_key("oidc", base, "admin", "token-a") == key  # a reload
    others = [
        sign_in_key("oidc", SignInResult(actor, actor.name, login="idp|ada|1700000999",
                                         client="127.0.113.9"), "admin", "token-a"),  # login
        sign_in_key("oidc", base, "admin", "token-b"),  # another browser
        sign_in_key("oidc", SignInResult(actor, actor.name, login=base.login,
                                         client="198.51.100.1"), "admin", "token-a"),
        sign_in_key("oidc", base, "operator", "token-a"),  # the role changed
        sign_in_key("proxy", base, "admin", "token-a"),
    ]
    assert key not in others and len(set(others)) == len(others)
    assert sign_in_key("oidc", base, "admin", None) is None  # no cookie: every session
    assert sign_in_key("oidc", SignInResult(None, None, "not signed in"), None, "t") is None
