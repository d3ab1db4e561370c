"""Load metric groups from collectors/catalog/: the catalogue plus one SQL file per server major.

Validation happens here, at load time: a group without SQL, a bad kind, or counters that are
not columns of its own definition fail loudly before anything is scheduled.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from collectors.errors import KashoOpsError

CATALOG_DIR = Path(__file__).parent / "catalog"
KINDS = ("gauge", "counter")
_SQL_FILE = re.compile(r"^(\d+)\.sql$")


class UnsupportedServer(KashoOpsError):
    """No definition of a group fits the server's major version."""


@dataclass(frozen=True)
class MetricGroup:
    name: str
    description: str
    interval_seconds: int
    kind: str
    keys: tuple[str, ...]
    unit: str
    requires: str
    counters: tuple[str, ...] = ()
    reset_column: str | None = None
    only_changed: bool = False
    timeout_ms: int | None = None
    sql_by_major: tuple[tuple[int, str], ...] = ()

    @property
    def store_table(self) -> str:
        return self.name

    @property
    def is_counter(self) -> bool:
        return self.kind == "counter"

    @property
    def min_major(self) -> int:
        return min(major for major, _ in self.sql_by_major)

    def sql_for(self, server_major: int) -> str:
        """The highest definition whose minimum major is <= the server's."""
        fitting = [(major, sql) for major, sql in self.sql_by_major if major <= server_major]
        if not fitting:
            raise UnsupportedServer(
                f"metric group {self.name} needs PostgreSQL {self.min_major} or newer; "
                f"the server runs {server_major}")
        return max(fitting)[1]


def load_group(name: str, spec: dict[str, object], catalog_dir: Path = CATALOG_DIR) -> MetricGroup:
    def fail(message: str) -> KashoOpsError:
        return KashoOpsError(f"catalogue group {name}: {message}")

    sql_files = []
    group_dir = catalog_dir / name
    if group_dir.is_dir():
        for path in group_dir.iterdir():
            match = _SQL_FILE.match(path.name)
            if match:
                sql_files.append((int(match.group(1)), path.read_text()))
    if not sql_files:
        raise fail(f"no SQL definitions in {group_dir} (expected files like 13.sql)")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)}")
    counters = tuple(spec.get("counters", ()))  # type: ignore[arg-type]
    if kind == "counter" and not counters:
        raise fail("a counter group must list its counters")
    if kind == "gauge" and counters:
        raise fail("a gauge group has no counters")
    interval = spec.get("interval_seconds")
    if not isinstance(interval, int) or interval < 1:
        raise fail("interval_seconds must be a whole number >= 1")
    timeout_ms = spec.get("timeout_ms")
    return MetricGroup(
        name=name,
        description=str(spec.get("description", "")),
        interval_seconds=interval,
        kind=kind,
        keys=tuple(spec.get("keys", ())),  # type: ignore[arg-type]
        unit=str(spec.get("unit", "")),
        requires=str(spec.get("requires", "")),
        counters=counters,
        reset_column=spec.get("reset_column"),  # type: ignore[arg-type]
        only_changed=bool(spec.get("only_changed", False)),
        timeout_ms=timeout_ms if isinstance(timeout_ms, int) else None,
        sql_by_major=tuple(sorted(sql_files)),
    )


@cache
def load_catalog(catalog_dir: Path = CATALOG_DIR) -> dict[str, MetricGroup]:
    """Every group in the catalogue, by name, in catalogue order."""
    catalogue = tomllib.loads((catalog_dir / "catalogue.toml").read_text())
    groups = catalogue.get("groups", {})
    return {name: load_group(name, spec, catalog_dir) for name, spec in groups.items()}
