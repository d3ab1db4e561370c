"""KASHO_OPS_DASHBOARD_ADDRESS: the one way to bind the dashboard beyond loopback (containers)."""

import logging
from collections.abc import Iterator

import pytest

from collectors.core import config as config_module
from collectors.core.config import DASHBOARD_ADDRESS_ENV, parse_config
from collectors.core.errors import ConfigError

STORE = {"dsn": "host=127.0.0.1 dbname=kasho_ops"}
LOGGER = "collectors.core.config"


# Beyond loopback the dashboard must sign people in ("none" is refused there): these tests
# are about the address, so they sign in through a proxy.
PROXY_AUTH = {"mode": "proxy", "roles": {"admin": ["dba@kasho.example"]},
              "proxy": {"trusted_addresses": ["127.0.0.1"]}}


def config(raw: dict, env: dict | None = None):
    return parse_config({"auth": PROXY_AUTH, **raw}, environ=env or {}, known_groups=set())


def test_the_wildcard_without_sign_in_is_refused() -> None:
    with pytest.raises(ConfigError, match=r'auth\.mode = "none" .* not 0\.0\.0\.0'):
        config({"store": STORE, "auth": {"mode": "none"}}, env={DASHBOARD_ADDRESS_ENV: "0.0.0.0"})


@pytest.fixture(autouse=True)
def fresh_warning_cache() -> Iterator[None]:
    config_module._warn_dashboard_exposed.cache_clear()
    yield
    config_module._warn_dashboard_exposed.cache_clear()


def test_without_the_override_the_file_address_is_used() -> None:
    cfg = config({"store": STORE, "dashboard": {"address": "::1"}})
    assert cfg.dashboard.address == "::1"


def test_file_cannot_name_a_wildcard_and_the_error_points_to_the_override() -> None:
    with pytest.raises(ConfigError) as excinfo:
        config({"store": STORE, "dashboard": {"address": "0.0.0.0"}})
    text = str(excinfo.value)
    assert "dashboard.address '0.0.0.0' is not a loopback address" in text
    assert DASHBOARD_ADDRESS_ENV in text
    assert "\n" not in text
    assert excinfo.value.exit_code == 2


def test_file_address_of_the_wrong_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"dashboard\.address \['127\.0\.0\.1'\] is not a "):
        config({"store": STORE, "dashboard": {"address": ["127.0.0.1"]}})


def test_override_binds_the_wildcard_and_logs_why(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    cfg = config({"store": STORE, "dashboard": {"address": "127.0.0.1", "port": 8600}},
                 env={DASHBOARD_ADDRESS_ENV: "0.0.0.0"})
    assert cfg.dashboard.address == "0.0.0.0"
    assert cfg.dashboard.port == 8600  # the rest of [dashboard] still comes from the file
    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith(f"dashboard binds 0.0.0.0 because {DASHBOARD_ADDRESS_ENV} is set: "
                              "it listens beyond loopback with no TLS")
    assert "host's 127.0.0.1" in message


def test_override_warning_is_logged_once_per_address(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for _ in range(3):
        config({"store": STORE}, env={DASHBOARD_ADDRESS_ENV: "0.0.0.0"})
    config({"store": STORE}, env={DASHBOARD_ADDRESS_ENV: "::"})
    assert [r.getMessage().split(" because ")[0] for r in caplog.records if r.name == LOGGER] \
        == ["dashboard binds 0.0.0.0", "dashboard binds ::"]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_override_to_loopback_is_silent(address: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    cfg = config({"store": STORE}, env={DASHBOARD_ADDRESS_ENV: address})
    assert cfg.dashboard.address == address
    assert [r for r in caplog.records if r.name == LOGGER] == []


@pytest.mark.parametrize("address", ["127.0.2.5", "::", "fd00::5"])
def test_override_accepts_ip_literals(address: str) -> None:
    assert config({"store": STORE}, env={DASHBOARD_ADDRESS_ENV: address}).dashboard.address \
        == address


def test_file_address_is_checked_even_when_overridden() -> None:
    # A file that binds the wildcard is wrong wherever it is later used, so it never passes.
    with pytest.raises(ConfigError, match=r"dashboard\.address '0\.0\.0\.0' is not a loopback"):
        config({"store": STORE, "dashboard": {"address": "0.0.0.0"}},
               env={DASHBOARD_ADDRESS_ENV: "0.0.0.0"})


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_override_counts_as_unset(value: str) -> None:
    assert config({"store": STORE}, env={DASHBOARD_ADDRESS_ENV: value}).dashboard.address \
        == "127.0.0.1"
    with pytest.raises(ConfigError, match="is not a loopback address"):
        config({"store": STORE, "dashboard": {"address": "0.0.0.0"}},
               env={DASHBOARD_ADDRESS_ENV: value})


@pytest.mark.parametrize("value", ["dashboard.example.com", "0.0.0.0:8501", "*", "all"])
def test_override_must_be_an_ip_literal(value: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        config({"store": STORE}, env={DASHBOARD_ADDRESS_ENV: value})
    text = str(excinfo.value)
    assert text == (f"{DASHBOARD_ADDRESS_ENV} {value!r} is not an IP address; use 0.0.0.0 "
                    "inside a container (publish the port on the host's 127.0.0.1) or 127.0.0.1")
    assert excinfo.value.exit_code == 2
