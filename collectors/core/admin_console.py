"""Rows from PgBouncer's admin console (`SHOW POOLS`, `SHOW STATS`, ...) shaped for the store.

Pure functions, no I/O. The console answers with its own column names and types: numbers as
numeric (Decimal), times split into whole seconds and a microsecond part (`maxwait` +
`maxwait_us`). `normalize` turns those into plain ints and one `<name>_seconds` float;
`shape_rows` renames and keeps the catalogue's columns (NULL where this PgBouncer version has
no such column), or folds one row per connection (`SHOW CLIENTS`) into counts and maxima per
group of columns, so the store gets the same typed columns whatever the version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class ConsoleShape:
    """What a console group keeps: `columns` after `rename`; with `summarize_by`, one row per
    distinct value of those columns, whose other columns are `summary` functions: "count"
    (rows in the group) or "max:<column>"."""

    columns: tuple[str, ...]
    rename: Mapping[str, str]
    summarize_by: tuple[str, ...] = ()
    summary: Mapping[str, str] | None = None


def normalize(row: Mapping[str, Any]) -> Row:
    """Decimals as int (or float when fractional); `x` with `x_us` also as `x_seconds`."""
    out: Row = {}
    for name, value in row.items():
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out[name] = value
    for name in list(out):
        if name.endswith("_us") and name[:-3] in out:
            whole, micro = out[name[:-3]], out[name]
            if isinstance(whole, int | float) and isinstance(micro, int | float):
                out[f"{name[:-3]}_seconds"] = float(whole) + float(micro) / 1_000_000
    return out


def shape_rows(rows: Iterable[Mapping[str, Any]], shape: ConsoleShape) -> list[Row]:
    renamed = [{shape.rename.get(k, k): v for k, v in normalize(row).items()} for row in rows]
    if not shape.summarize_by:
        return [{c: row.get(c) for c in shape.columns} for row in renamed]
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in renamed:
        groups.setdefault(tuple(row.get(c) for c in shape.summarize_by), []).append(row)
    out = []
    for key, members in sorted(groups.items(), key=lambda item: [str(v) for v in item[0]]):
        summarized: Row = dict(zip(shape.summarize_by, key, strict=True))
        for column, function in (shape.summary or {}).items():
            summarized[column] = _summarize(function, members)
        out.append({c: summarized.get(c) for c in shape.columns})
    return out


def _summarize(function: str, rows: list[Row]) -> Any:
    if function == "count":
        return len(rows)
    if function.startswith("max:"):
        values = [r.get(function[4:]) for r in rows]
        present = [v for v in values if v is not None]
        return max(present) if present else None
    raise ValueError(f"unknown summary {function!r}: use count or max:<column>")


def command_text(definition: str) -> str:
    """The console command in a definition file: its comment lines dropped (the console
    accepts no comments) and the trailing semicolon removed."""
    lines = [line for line in definition.splitlines()
             if line.strip() and not line.lstrip().startswith("--")]
    return " ".join(line.strip() for line in lines).rstrip(";").strip()
