"""Load metric groups from collectors/catalog/: the catalogue plus one SQL file per server major.

Validation happens here, at load time: a group without SQL, a bad kind, or counters that are
not columns of its own definition fail loudly before anything is scheduled.

A group with text columns may keep them out of its per-run SQL: `<group>/texts/<major>.sql`
then reads them only for the text keys the store has not seen yet (one array parameter per
text key, named after it), so long texts are not read from the server on every run.

A group that needs privileges the monitoring role may lack has `<group>/unreadable/<major>.sql`:
it runs first and returns the rows that stand for the group when the role cannot read it
(none when it can). The group's own SQL then never runs without its privileges, so the
monitored server logs no permission error every interval, and nothing needs dynamic SQL.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from collectors.core.admin_console import ConsoleShape
from collectors.core.errors import KashoOpsError
from collectors.core.host_filesystem import FREE, NOTE, TOTAL
from collectors.core.incremental import PLACEHOLDERS, IncrementalSpec
from collectors.core.sql_parameters import SQL_PARAMETERS

CATALOG_DIR = Path(__file__).resolve().parent.parent / "catalog"
KINDS = ("gauge", "counter", "sampled")
# Which of a target's roles a group reads as: the monitoring role (dsn, pg_monitor) or the
# business role (business_dsn, SELECT on Kasho's tables only).
CONNECTIONS = ("monitoring", "business")
TARGET_KINDS = ("postgres", "pgbouncer")
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
    new_from_zero: bool = False
    timeout_ms: int | None = None
    sql_by_major: tuple[tuple[int, str], ...] = ()
    text_columns: tuple[str, ...] = ()
    text_keys: tuple[str, ...] = ()
    text_table: str | None = None
    text_sql_by_major: tuple[tuple[int, str], ...] = ()
    unreadable_sql_by_major: tuple[tuple[int, str], ...] = ()
    text_max_chars: int | None = None
    mask_literals_in: tuple[str, ...] = ()
    extension: str | None = None
    preload_library: bool = False
    connection: str = "monitoring"
    incremental: IncrementalSpec | None = None
    optional: bool = False
    parameters: tuple[str, ...] = ()
    host_path_column: str | None = None
    target_kind: str = "postgres"
    console_shape: ConsoleShape | None = None  # pgbouncer groups: the columns kept
    sample_interval_seconds: int | None = None  # kind "sampled": how often the SQL runs
    averaged: tuple[str, ...] = ()  # kind "sampled": columns averaged over the samples

    @property
    def store_table(self) -> str:
        return self.name

    def split_texts(self, rows: list[dict[str, Any]]) -> tuple[
            list[dict[str, Any]], dict[tuple[Any, ...], dict[str, Any]]]:
        """Rows without the text columns, and the text rows by text key (one per key)."""
        if not self.text_columns:
            return rows, {}
        texts: dict[tuple[Any, ...], dict[str, Any]] = {}
        slim = []
        for row in rows:
            key = tuple(row[k] for k in self.text_keys)
            if key not in texts:
                texts[key] = {**dict(zip(self.text_keys, key, strict=True)),
                              **{c: row[c] for c in self.text_columns}}
            slim.append({c: v for c, v in row.items() if c not in self.text_columns})
        return slim, texts

    @property
    def is_counter(self) -> bool:
        return self.kind == "counter"

    @property
    def is_sampled(self) -> bool:
        return self.kind == "sampled"

    @property
    def min_major(self) -> int:
        return min(major for major, _ in self.sql_by_major)

    def sql_for(self, server_major: int) -> str:
        """The highest definition whose minimum major is <= the server's."""
        return self._fitting(self.sql_by_major, server_major)

    @property
    def has_text_query(self) -> bool:
        return bool(self.text_sql_by_major)

    def text_sql_for(self, server_major: int) -> str:
        """The text query for the server's major (see the module docstring)."""
        return self._fitting(self.text_sql_by_major, server_major)

    def unreadable_sql_for(self, server_major: int) -> str | None:
        """The stand-in query for the server's major, if the group has one."""
        if not self.unreadable_sql_by_major:
            return None
        return self._fitting(self.unreadable_sql_by_major, server_major)

    def _fitting(self, definitions: tuple[tuple[int, str], ...], server_major: int) -> str:
        fitting = [(major, sql) for major, sql in definitions if major <= server_major]
        if not fitting:
            raise UnsupportedServer(
                f"metric group {self.name} needs PostgreSQL {self.min_major} or newer; "
                f"the server runs {server_major}")
        return max(fitting)[1]


def _names(spec: dict[str, object], key: str) -> tuple[str, ...]:
    """A catalogue list of column names; anything else is a catalogue error."""
    value = spec.get(key, ())
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise KashoOpsError(f"catalogue: {key} must be a list of column names")
    return tuple(value)


def load_group(name: str, spec: dict[str, object], catalog_dir: Path = CATALOG_DIR) -> MetricGroup:
    def fail(message: str) -> KashoOpsError:
        return KashoOpsError(f"catalogue group {name}: {message}")

    group_dir = catalog_dir / name
    sql_files = _sql_by_major(group_dir)
    text_sql_files = _sql_by_major(group_dir / "texts")
    unreadable_sql_files = _sql_by_major(group_dir / "unreadable")
    if not sql_files:
        raise fail(f"no SQL definitions in {group_dir} (expected files like 13.sql)")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)}")
    counters = _names(spec, "counters")
    if kind == "counter" and not counters:
        raise fail("a counter group must list its counters")
    if kind in ("gauge", "sampled") and counters:
        raise fail(f"a {kind} group has no counters")
    interval = spec.get("interval_seconds")
    if not isinstance(interval, int) or interval < 1:
        raise fail("interval_seconds must be a whole number >= 1")
    sample_interval = spec.get("sample_interval_seconds")
    averaged = _names(spec, "averaged")
    if kind == "sampled":
        if not isinstance(sample_interval, int) or not 1 <= sample_interval < interval:
            raise fail("a sampled group needs sample_interval_seconds, a whole number >= 1 "
                       "and below interval_seconds")
        if not averaged:
            raise fail("a sampled group must list the columns it averages (averaged)")
    elif sample_interval is not None or averaged:
        raise fail("sample_interval_seconds and averaged only make sense with kind sampled")
    timeout_ms = spec.get("timeout_ms")
    keys = _names(spec, "keys")
    text_columns = _names(spec, "text_columns")
    text_keys = _names(spec, "text_keys") if "text_keys" in spec else keys
    text_table = spec.get("text_table")
    if text_columns:
        if not isinstance(text_table, str) or not text_table:
            raise fail("text_columns need a text_table to keep them in")
        if not set(text_keys) <= set(keys) or not text_keys:
            raise fail("text_keys must be a non-empty subset of keys")
        if set(text_columns) & (set(keys) | set(counters)):
            raise fail("text_columns cannot also be keys or counters")
    elif text_table or "text_keys" in spec:
        raise fail("text_table and text_keys only make sense with text_columns")
    if text_sql_files and not text_columns:
        raise fail("a texts/ query needs text_columns to read")
    text_max_chars = spec.get("text_max_chars")
    if text_max_chars is not None and (not isinstance(text_max_chars, int)
                                       or isinstance(text_max_chars, bool)
                                       or text_max_chars < 1):
        raise fail("text_max_chars must be a whole number >= 1")
    mask_literals_in = _names(spec, "mask_literals_in")
    if not set(mask_literals_in) <= set(text_columns):
        raise fail("mask_literals_in must name text_columns")
    optional = bool(spec.get("optional", False))
    if optional and not spec.get("extension"):
        raise fail("optional means the group's extension may be missing: name the extension")
    parameters = _names(spec, "parameters")
    unknown = [p for p in parameters if p not in SQL_PARAMETERS]
    if unknown:
        raise fail(f"unknown parameters {', '.join(unknown)}; known: "
                   f"{', '.join(sorted(SQL_PARAMETERS))}")
    for _major, text in sql_files:
        missing = [p for p in parameters if f"%({p})s" not in text]
        if missing:
            raise fail(f"parameters {', '.join(missing)} are not used as %(name)s in its SQL")
    host_path_column = spec.get("host_path_column")
    if isinstance(host_path_column, str):
        for _major, text in sql_files:
            absent = [c for c in (host_path_column, TOTAL, FREE, NOTE) if c not in text]
            if absent:
                raise fail(f"host_path_column needs the columns {', '.join(absent)} in its "
                           "SQL (NULL placeholders the engine fills)")
    target_kind = spec.get("target_kind", "postgres")
    if target_kind not in TARGET_KINDS:
        raise fail(f"target_kind must be one of {', '.join(TARGET_KINDS)}")
    if unreadable_sql_files and (target_kind != "postgres" or kind != "gauge"):
        raise fail("an unreadable/ stand-in is for gauge groups of PostgreSQL targets")
    if unreadable_sql_files and min(m for m, _ in unreadable_sql_files) > min(
            m for m, _ in sql_files):
        raise fail("unreadable/ needs a file for the group's lowest major")
    console_shape = _console_shape(spec, keys, counters, fail) if target_kind == "pgbouncer" \
        else None
    connection = spec.get("connection", "monitoring")
    if connection not in CONNECTIONS:
        raise fail(f"connection must be one of {', '.join(CONNECTIONS)}")
    incremental = None
    if "incremental" in spec:
        if kind != "gauge":
            raise fail("incremental groups are gauges (each run stores only its own window)")
        try:
            incremental = IncrementalSpec.parse(spec["incremental"])
        except ValueError as exc:
            raise fail(str(exc)) from None
    for major, text in sql_files:
        bound = [p for p in PLACEHOLDERS if p in text]
        if incremental is not None and len(bound) < len(PLACEHOLDERS):
            raise fail(f"{major}.sql must read its window as {' and '.join(PLACEHOLDERS)}")
        if incremental is None and bound:
            raise fail(f"{major}.sql binds {bound[0]} but the group is not incremental")
    if incremental is not None and target_kind != "postgres":
        raise fail("incremental groups read PostgreSQL (their SQL binds a window)")
    return MetricGroup(
        name=name,
        description=str(spec.get("description", "")),
        interval_seconds=interval,
        kind=kind,
        keys=keys,
        unit=str(spec.get("unit", "")),
        requires=str(spec.get("requires", "")),
        counters=counters,
        reset_column=spec.get("reset_column"),  # type: ignore[arg-type]
        only_changed=bool(spec.get("only_changed", False)),
        new_from_zero=bool(spec.get("new_from_zero", False)),
        timeout_ms=timeout_ms if isinstance(timeout_ms, int) else None,
        sql_by_major=tuple(sorted(sql_files)),
        text_columns=text_columns,
        text_keys=text_keys if text_columns else (),
        text_table=text_table if text_columns else None,  # type: ignore[arg-type]
        text_sql_by_major=tuple(sorted(text_sql_files)),
        unreadable_sql_by_major=tuple(sorted(unreadable_sql_files)),
        text_max_chars=text_max_chars,
        mask_literals_in=mask_literals_in,
        extension=spec.get("extension"),  # type: ignore[arg-type]
        preload_library=bool(spec.get("preload_library", False)),
        connection=str(connection),
        incremental=incremental,
        optional=optional,
        parameters=parameters,
        host_path_column=host_path_column if isinstance(host_path_column, str) else None,
        target_kind=str(target_kind),
        console_shape=console_shape,
        sample_interval_seconds=sample_interval if kind == "sampled" else None,
        averaged=averaged,
    )


def _sql_by_major(folder: Path) -> list[tuple[int, str]]:
    if not folder.is_dir():
        return []
    return [(int(match.group(1)), path.read_text()) for path in folder.iterdir()
            if (match := _SQL_FILE.match(path.name))]


def _console_shape(spec: dict[str, object], keys: tuple[str, ...], counters: tuple[str, ...],
                   fail: Any) -> ConsoleShape:
    """A pgbouncer group's `columns` (required), `rename`, `summarize_by` and `summary`."""
    columns = _names(spec, "columns")
    if not columns:
        raise fail("a pgbouncer group must list the console columns it keeps (columns)")
    if not set(keys) | set(counters) <= set(columns):
        raise fail("keys and counters must be among columns")
    rename = spec.get("rename", {})
    summarize_by = _names(spec, "summarize_by")
    summary = spec.get("summary", {})
    if not isinstance(rename, dict) or not isinstance(summary, dict):
        raise fail("rename and summary are tables of column = value")
    for column, function in summary.items():
        if function != "count" and not str(function).startswith("max:"):
            raise fail(f"summary.{column} must be \"count\" or \"max:<column>\"")
    if summary and not summarize_by:
        raise fail("summary needs summarize_by")
    return ConsoleShape(columns=columns, rename=dict(rename), summarize_by=summarize_by,
                        summary=dict(summary) if summary else None)


@cache
def load_catalog(catalog_dir: Path = CATALOG_DIR) -> dict[str, MetricGroup]:
    """Every group in the catalogue, by name, in catalogue order."""
    catalogue = tomllib.loads((catalog_dir / "catalogue.toml").read_text())
    groups = catalogue.get("groups", {})
    return {name: load_group(name, spec, catalog_dir) for name, spec in groups.items()}
