from pathlib import Path

import pytest

from collectors.core.config import load_config, parse_config
from collectors.core.errors import ConfigError

GROUPS = {"database_size", "connections", "connection_limits", "database_stats"}
STORE = {"dsn": "host=127.0.0.1 dbname=kasho_ops"}


def config(raw: dict, env: dict | None = None):
    return parse_config(raw, environ=env or {}, known_groups=GROUPS)


def test_minimal_config_gets_documented_defaults() -> None:
    cfg = config({"store": STORE, "targets": [{"name": "kasho", "dsn": "host=127.0.0.1"}]})
    assert cfg.collector.statement_timeout_ms == 5000
    assert cfg.collector.lock_timeout_ms == 500
    assert cfg.collector.max_connections_per_target == 2
    assert cfg.dashboard.address == "127.0.0.1"
    assert cfg.dashboard.actions_enabled is False
    assert cfg.store.retention_days == 30
    assert cfg.store.retention_for("query_stats") == 3
    assert cfg.store.retention_for("query_stats_daily") == 730
    assert cfg.store.retention_for("connections") == 30
    assert [t.name for t in cfg.targets] == ["kasho"]


def test_environment_overrides_store_target_and_interval() -> None:
    cfg = config(
        {"store": STORE, "targets": [{"name": "kasho-primary", "dsn": "host=a"}],
         "intervals": {"connections": 30}},
        env={"KASHO_OPS_STORE_DSN": "host=other dbname=s",
             "KASHO_OPS_TARGET_KASHO_PRIMARY_DSN": "host=b dbname=k",
             "KASHO_OPS_INTERVAL_DATABASE_SIZE": "600"},
    )
    assert cfg.store.dsn.reveal() == "host=other dbname=s"
    assert cfg.targets[0].dsn.reveal() == "host=b dbname=k"
    assert cfg.collector.intervals == {"connections": 30, "database_size": 600}


def test_password_env_is_read_and_never_shown() -> None:
    cfg = config({"store": STORE, "targets": [
        {"name": "k", "dsn": "host=a user=m", "password_env": "MON_PW"}]}, env={"MON_PW": "pw1"})
    target = cfg.targets[0]
    assert target.connect_kwargs()["password"] == "pw1"
    assert "pw1" not in repr(target) and "pw1" not in repr(cfg)


def test_dsn_password_is_redacted_in_display() -> None:
    cfg = config({"store": {"dsn": "postgresql://u:topsecret@h/db"}, "targets": []})
    assert cfg.store.display_dsn == "postgresql://u:***@h/db"
    assert "topsecret" not in repr(cfg)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"targets": []}, "store.dsn is missing"),
        ({"store": STORE, "targetz": []}, "unknown top-level key 'targetz'"),
        ({"store": {**STORE, "retention": 3}}, "unknown key 'retention' in [store]"),
        ({"store": STORE, "targets": [{"name": "Bad Name", "dsn": "host=a"}]},
         "targets[0].name must be lowercase"),
        ({"store": STORE, "targets": [{"name": "a", "dsn": "host=a"}, {"name": "a", "dsn": "x=1"}]},
         "targets[1].name 'a' is used twice"),
        ({"store": STORE, "targets": [{"name": "a"}]}, "targets[0].dsn is missing"),
        ({"store": STORE, "targets": [{"name": "a", "dsn": "host=a password=sekrit port"}]},
         "targets[0].dsn is not a valid libpq connection string"),
        ({"store": STORE, "intervals": {"conections": 5}}, "no metric group named 'conections'"),
        ({"store": STORE, "intervals": {"connections": 0}}, "intervals.connections must be"),
        ({"store": STORE, "collector": {"statement_timeout_ms": "5s"}},
         "collector.statement_timeout_ms must be a whole number"),
        ({"store": STORE, "collector": {"max_connections_per_target": 20}},
         "max_connections_per_target must be at most 5"),
        ({"store": STORE, "dashboard": {"address": "0.0.0.0"}}, "not a loopback address"),
        ({"store": STORE, "targets": [{"name": "a", "dsn": "host=a", "password_env": "NOPE"}]},
         "password_env names 'NOPE', which is not set"),
    ],
)
def test_invalid_config_is_one_line_naming_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        config(raw)
    text = str(excinfo.value)
    assert message in text
    assert "\n" not in text
    assert "sekrit" not in text
    assert excinfo.value.exit_code == 2


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found; copy kasho-ops\.example\.toml"):
        load_config(tmp_path / "absent.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[store\ndsn = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)


def test_example_config_is_valid_and_documents_every_key() -> None:
    example = Path(__file__).resolve().parents[2] / "kasho-ops.example.toml"
    cfg = load_config(example, known_groups=GROUPS)
    assert cfg.targets[0].name == "kasho-primary"
    text = example.read_text()
    from collectors.core.config import _SECTION_KEYS

    for section, keys in _SECTION_KEYS.items():
        for key in keys:
            assert f"{key} =" in text, f"{section}.{key} is not documented in the example"
