"""[[targets]] actions_dsn: the optional role for dashboard cancel/terminate actions."""

import pytest

from collectors.core.config import parse_config
from collectors.core.errors import ConfigError

STORE = {"dsn": "host=127.0.0.1 dbname=kasho_ops"}


def target(**item: object) -> dict:
    return {"store": STORE, "targets": [{"name": "kasho-primary", "dsn": "host=a", **item}]}


def test_actions_dsn_is_optional_and_absent_by_default() -> None:
    cfg = parse_config(target(), environ={})
    assert cfg.targets[0].actions_dsn is None


def test_actions_dsn_from_file_is_a_secret() -> None:
    cfg = parse_config(target(actions_dsn="host=a user=signaller password=s3cret"), environ={})
    actions_dsn = cfg.targets[0].actions_dsn
    assert actions_dsn is not None
    assert actions_dsn.reveal() == "host=a user=signaller password=s3cret"
    assert "s3cret" not in repr(cfg)


def test_environment_overrides_actions_dsn() -> None:
    cfg = parse_config(target(actions_dsn="host=a user=from_file"),
                       environ={"KASHO_OPS_TARGET_KASHO_PRIMARY_ACTIONS_DSN":
                                "host=b user=from_env"})
    assert cfg.targets[0].actions_dsn.reveal() == "host=b user=from_env"  # type: ignore[union-attr]
    assert cfg.targets[0].dsn.reveal() == "host=a"


@pytest.mark.parametrize(("value", "message"), [
    ("host=a password=hunter2 port", "targets[0].actions_dsn is not a valid libpq connection"),
    (5, "targets[0].actions_dsn must be a string"),
])
def test_bad_actions_dsn_is_one_line_naming_the_key(value: object, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        parse_config(target(actions_dsn=value), environ={})
    text = str(excinfo.value)
    assert message in text
    assert "\n" not in text and "hunter2" not in text


@pytest.mark.parametrize(("first", "second"), [("kasho-primary", "kasho_primary"),
                                               ("x", "x-actions"), ("x-actions", "x")])
def test_targets_whose_environment_overrides_collide_are_refused(first: str,
                                                                  second: str) -> None:
    raw = {"store": STORE, "targets": [{"name": first, "dsn": "host=a"},
                                       {"name": second, "dsn": "host=b"}]}
    with pytest.raises(ConfigError, match="would read the same environment overrides"):
        parse_config(raw, environ={})


def test_distinct_targets_are_accepted() -> None:
    raw = {"store": STORE, "targets": [{"name": "primary", "dsn": "host=a"},
                                       {"name": "replica-actions-log", "dsn": "host=b"}]}
    assert [t.name for t in parse_config(raw, environ={}).targets] == [
        "primary", "replica-actions-log"]


def test_explain_dsn_is_optional_a_secret_and_overridable() -> None:
    assert parse_config(target(), environ={}).targets[0].explain_dsn is None
    cfg = parse_config(target(explain_dsn="host=a user=planner password=s3cret"), environ={})
    explain_dsn = cfg.targets[0].explain_dsn
    assert explain_dsn is not None
    assert explain_dsn.reveal() == "host=a user=planner password=s3cret"
    assert "s3cret" not in repr(cfg)
    cfg = parse_config(target(explain_dsn="host=a"),
                       environ={"KASHO_OPS_TARGET_KASHO_PRIMARY_EXPLAIN_DSN": "host=b"})
    assert cfg.targets[0].explain_dsn.reveal() == "host=b"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"targets\[0\]\.explain_dsn must be a string"):
        parse_config(target(explain_dsn=5), environ={})
    raw = {"store": STORE, "targets": [{"name": "x", "dsn": "host=a"},
                                       {"name": "x-explain", "dsn": "host=b"}]}
    with pytest.raises(ConfigError, match="would read the same environment overrides"):
        parse_config(raw, environ={})
