"""PgBouncer admin console rows shaped for the store (pure), and the pgbouncer target config."""

from __future__ import annotations

from decimal import Decimal

import pytest

from collectors.core.admin_console import ConsoleShape, command_text, normalize, shape_rows
from collectors.core.config import parse_config
from collectors.core.errors import ConfigError
from collectors.core.metric_groups import load_catalog


def test_normalize_turns_decimals_into_numbers_and_joins_microseconds() -> None:
    row = normalize({"database": "kasho", "total_query_count": Decimal("12"),
                     "avg": Decimal("1.5"), "maxwait": 2, "maxwait_us": 250_000})
    assert row == {"database": "kasho", "total_query_count": 12, "avg": 1.5, "maxwait": 2,
                   "maxwait_us": 250_000, "maxwait_seconds": 2.25}
    assert isinstance(row["total_query_count"], int)


def test_columns_are_renamed_kept_and_null_where_this_version_lacks_them() -> None:
    shape = ConsoleShape(columns=("database", "usename", "cl_active", "sv_new_in_2_0"),
                         rename={"user": "usename"})
    rows = shape_rows([{"database": "kasho", "user": "app", "cl_active": 3, "extra": 1}], shape)
    assert rows == [{"database": "kasho", "usename": "app", "cl_active": 3,
                     "sv_new_in_2_0": None}]


def test_connections_are_folded_into_counts_and_longest_waits() -> None:
    shape = load_catalog()["pgbouncer_clients"].console_shape
    assert shape is not None
    clients = [
        {"user": "app", "database": "kasho", "state": "active", "application_name": "api",
         "wait": 0, "wait_us": 0},
        {"user": "app", "database": "kasho", "state": "waiting", "application_name": "api",
         "wait": 1, "wait_us": 500_000},
        {"user": "app", "database": "kasho", "state": "waiting", "application_name": "api",
         "wait": 0, "wait_us": 200_000},
    ]
    assert shape_rows(clients, shape) == [
        {"database": "kasho", "usename": "app", "state": "active", "application_name": "api",
         "clients": 1, "longest_wait_seconds": 0.0},
        {"database": "kasho", "usename": "app", "state": "waiting", "application_name": "api",
         "clients": 2, "longest_wait_seconds": 1.5}]


def test_command_text_drops_comments_the_console_would_refuse() -> None:
    assert command_text("-- pools\n-- more\nSHOW POOLS;\n") == "SHOW POOLS"


def test_every_pgbouncer_group_is_a_show_command_with_its_columns() -> None:
    groups = [g for g in load_catalog().values() if g.target_kind == "pgbouncer"]
    assert {g.name for g in groups} == {"pgbouncer_pools", "pgbouncer_databases",
                                        "pgbouncer_stats", "pgbouncer_clients",
                                        "pgbouncer_servers"}
    for group in groups:
        assert command_text(group.sql_for(1)).startswith("SHOW ")
        assert group.console_shape is not None


def config(*targets: dict[str, str]) -> object:
    return parse_config({"store": {"dsn": "host=s"}, "targets": list(targets)}, environ={})


def test_a_pgbouncer_target_names_the_server_it_fronts() -> None:
    parsed = config({"name": "kasho", "dsn": "host=db"},
                    {"name": "pool", "kind": "pgbouncer", "fronts": "kasho",
                     "dsn": "host=db port=6432 dbname=pgbouncer"})
    pool = parsed.targets[1]  # type: ignore[attr-defined]
    assert (pool.kind, pool.fronts) == ("pgbouncer", "kasho")


@pytest.mark.parametrize(("target", "message"), [
    ({"name": "p", "kind": "mysql", "dsn": "host=x"}, "kind must be one of postgres, pgbouncer"),
    ({"name": "p", "kind": "pgbouncer", "fronts": "nope", "dsn": "host=x"},
     "fronts 'nope' is not a postgres target"),
    ({"name": "p", "fronts": "kasho", "dsn": "host=x"}, "fronts only applies to kind"),
    ({"name": "p", "kind": "pgbouncer", "dsn": "host=x", "actions_dsn": "host=x"},
     "has no sessions to cancel"),
])
def test_bad_pgbouncer_targets_are_one_clear_line(target: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config({"name": "kasho", "dsn": "host=db"}, target)
