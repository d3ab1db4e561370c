from pathlib import Path

import pytest

from collectors.core.errors import KashoOpsError
from collectors.core.metric_groups import UnsupportedServer, load_catalog, load_group


def make_group(tmp_path: Path, files: dict[str, str], **spec) -> object:
    (tmp_path / "g").mkdir()
    for name, text in files.items():
        (tmp_path / "g" / name).write_text(text)
    defaults = {"kind": "gauge", "interval_seconds": 10, "keys": ["k"]}
    return load_group("g", {**defaults, **spec}, tmp_path)


def test_engine_picks_highest_definition_not_above_server_major(tmp_path: Path) -> None:
    group = make_group(tmp_path, {"13.sql": "SELECT 13", "16.sql": "SELECT 16",
                                  "17.sql": "SELECT 17"})
    assert group.sql_for(15) == "SELECT 13"
    assert group.sql_for(16) == "SELECT 16"
    assert group.sql_for(18) == "SELECT 17"
    with pytest.raises(UnsupportedServer, match="needs PostgreSQL 13 or newer"):
        group.sql_for(12)


@pytest.mark.parametrize(
    ("files", "spec", "message"),
    [
        ({}, {}, "no SQL definitions"),
        ({"13.sql": "SELECT 1"}, {"kind": "histogram"}, "kind must be one of"),
        ({"13.sql": "SELECT 1"}, {"kind": "counter"}, "must list its counters"),
        ({"13.sql": "SELECT 1"}, {"interval_seconds": 0}, "interval_seconds must be"),
    ],
)
def test_bad_definitions_fail_at_load(tmp_path: Path, files: dict, spec: dict,
                                      message: str) -> None:
    with pytest.raises(KashoOpsError, match=message):
        make_group(tmp_path, files, **spec)


def test_shipped_catalogue_loads_and_is_consistent() -> None:
    catalog = load_catalog()
    assert {"database_size", "connections", "connection_limits", "database_stats"} <= set(catalog)
    for group in catalog.values():
        assert group.description and group.unit and group.requires
        for _major, sql in group.sql_by_major:
            assert sql.startswith(f"-- {group.name}"), f"{group.name}: header comment missing"
            if group.console_shape is not None:
                continue  # a SHOW command: its columns are the catalogue's (test_admin_console)
            for column in (*group.keys, *group.counters):
                assert column in sql, f"{group.name}: column {column} not in its SQL"
    assert catalog["connection_limits"].sql_for(15) != catalog["connection_limits"].sql_for(16)


def test_an_unreadable_stand_in_fits_the_majors_and_only_gauge_groups(tmp_path: Path) -> None:
    group = make_group(tmp_path, {"13.sql": "SELECT 13", "16.sql": "SELECT 16"})
    assert group.unreadable_sql_for(16) is None
    (tmp_path / "g" / "unreadable").mkdir()
    (tmp_path / "g" / "unreadable" / "13.sql").write_text("SELECT 'not readable'")
    group = load_group("g", {"kind": "gauge", "interval_seconds": 10, "keys": ["k"]}, tmp_path)
    assert group.unreadable_sql_for(18) == "SELECT 'not readable'"
    with pytest.raises(KashoOpsError, match="for gauge groups"):
        load_group("g", {"kind": "counter", "counters": ["c"], "interval_seconds": 10,
                         "keys": ["k"]}, tmp_path)
    (tmp_path / "g" / "unreadable" / "13.sql").rename(tmp_path / "g" / "unreadable" / "14.sql")
    with pytest.raises(KashoOpsError, match="lowest major"):
        load_group("g", {"kind": "gauge", "interval_seconds": 10, "keys": ["k"]}, tmp_path)
