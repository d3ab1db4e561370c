"""The catalogue's generic additions for storage groups: SQL parameters bound from the
config, optional extensions, host filesystem columns; and the config keys behind them."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from collectors.core.config import CollectorSettings, Target, parse_config
from collectors.core.errors import ConfigError, KashoOpsError
from collectors.core.host_filesystem import OFF_NOTE, add_filesystem_usage
from collectors.core.metric_groups import load_catalog, load_group
from collectors.core.redact import Secret
from collectors.core.sql_parameters import SQL_PARAMETERS, bind


def make_group(tmp_path: Path, sql: str, **spec: object) -> object:
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "13.sql").write_text(sql)
    return load_group("g", {"kind": "gauge", "interval_seconds": 10, "keys": [], **spec},
                      tmp_path)


@pytest.mark.parametrize(("sql", "spec", "message"), [
    ("SELECT 1", {"parameters": ["nope"]}, "unknown parameters nope"),
    ("SELECT 1", {"parameters": ["top_tables"]}, "are not used as %\\(name\\)s"),
    ("SELECT 1", {"optional": True}, "name the extension"),
    ("SELECT 1 AS data_directory", {"host_path_column": "data_directory"},
     "filesystem_total_bytes, filesystem_free_bytes, filesystem_note"),
])
def test_bad_storage_definitions_fail_at_load(tmp_path: Path, sql: str,
                                              spec: dict[str, object], message: str) -> None:
    with pytest.raises(KashoOpsError, match=message):
        make_group(tmp_path, sql, **spec)


def test_parameters_come_from_the_target_and_the_collector_settings() -> None:
    target = Target("t", Secret("host=x"), disk_capacity_bytes=5 * 2**30)
    assert bind(("top_tables", "disk_capacity_bytes"), target,
                CollectorSettings(top_tables=7)) == {"top_tables": 7,
                                                     "disk_capacity_bytes": 5 * 2**30}
    assert bind((), target, CollectorSettings()) is None  # no parameters: % needs no doubling


def test_every_shipped_parameter_is_known_and_each_storage_group_loads() -> None:
    catalog = load_catalog()
    for group in catalog.values():
        assert set(group.parameters) <= set(SQL_PARAMETERS)
    assert catalog["table_stats"].parameters == ("top_tables",)
    assert catalog["disk_capacity"].host_path_column == "data_directory"
    assert catalog["buffer_cache"].optional and catalog["buffer_cache"].extension
    # per-major SQL: PostgreSQL 16 adds last_idx_scan, 17 renames vacuum progress columns,
    # 18 caps the vacuum threshold
    assert catalog["index_stats"].sql_for(15) != catalog["index_stats"].sql_for(16)
    assert catalog["maintenance_progress"].sql_for(16) != catalog[
        "maintenance_progress"].sql_for(17)
    assert "autovacuum_vacuum_max_threshold" in catalog["table_stats"].sql_for(18)
    assert "autovacuum_vacuum_max_threshold" not in catalog["table_stats"].sql_for(17)


def test_no_group_reads_pg_stats_value_columns() -> None:
    readers = 0
    for group in load_catalog().values():
        for _major, sql in group.sql_by_major:
            code = "\n".join(line.split("--")[0] for line in sql.splitlines())
            if not re.search(r"\bpg_stats\b", code):
                continue
            readers += 1
            aliases = re.findall(r"\bpg_stats\s+(?:AS\s+)?(\w+)", code, re.IGNORECASE)
            for column in ("most_common_vals", "histogram_bounds", "most_common_elems",
                           "elem_count_histogram", "pg_stats.*",
                           *(f"{alias}.*" for alias in aliases)):
                assert column not in code, f"{group.name} reads pg_stats.{column}"
    assert readers  # bloat_estimate reads null_frac and avg_width only


def test_host_filesystem_is_read_only_when_enabled(tmp_path: Path) -> None:
    rows = [{"data_directory": str(tmp_path), "filesystem_total_bytes": None}]
    (off,) = add_filesystem_usage(rows, "data_directory", enabled=False)
    assert (off["filesystem_total_bytes"], off["filesystem_note"]) == (None, OFF_NOTE)
    (on,) = add_filesystem_usage(rows, "data_directory", enabled=True)
    stats = os.statvfs(tmp_path)
    assert on["filesystem_total_bytes"] == stats.f_blocks * stats.f_frsize
    assert on["filesystem_note"] is None and on["filesystem_free_bytes"] > 0
    (gone,) = add_filesystem_usage([{"data_directory": str(tmp_path / "nope")}],
                                   "data_directory", enabled=True)
    assert gone["filesystem_total_bytes"] is None
    assert "is not reachable on the collector's host" in gone["filesystem_note"]


def config(**target: object) -> object:
    return parse_config({"store": {"dsn": "host=x"}, "collector": {"top_tables": 25},
                         "targets": [{"name": "t", "dsn": "host=y", **target}]}, environ={})


def test_storage_config_keys() -> None:
    parsed = config(disk_capacity_bytes=500 * 2**30, host_filesystem=True)
    assert parsed.collector.top_tables == 25  # type: ignore[attr-defined]
    target = parsed.targets[0]  # type: ignore[attr-defined]
    assert (target.disk_capacity_bytes, target.host_filesystem) == (500 * 2**30, True)
    plain = config().targets[0]  # type: ignore[attr-defined]
    assert (plain.disk_capacity_bytes, plain.host_filesystem) == (None, False)
    with pytest.raises(ConfigError, match=r"disk_capacity_bytes must be a whole number from "
                       r"1 to 4611686018427387904 \(got '1 TB'\)"):
        config(disk_capacity_bytes="1 TB")
    with pytest.raises(ConfigError, match="host_filesystem must be true or false"):
        config(host_filesystem="yes")
