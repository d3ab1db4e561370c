"""Values a metric group's SQL may bind from the configuration, by name.

A group lists them in the catalogue (`parameters = ["top_tables"]`); its SQL reads them as
bound parameters (`%(top_tables)s`, so a literal % in that SQL is written %%). Every name
here says which config key it comes from; an unknown name fails when the catalogue loads.
"""

from __future__ import annotations

from collections.abc import Callable

from collectors.core.config import CollectorSettings, Target

ParameterSource = Callable[[Target, CollectorSettings], object]

SQL_PARAMETERS: dict[str, tuple[str, ParameterSource]] = {
    "top_tables": ("[collector] top_tables",
                   lambda target, settings: settings.top_tables),
    "disk_capacity_bytes": ("[[targets]] disk_capacity_bytes",
                            lambda target, settings: target.disk_capacity_bytes),
}


def bind(names: tuple[str, ...], target: Target,
         settings: CollectorSettings) -> dict[str, object] | None:
    """The named parameters' values for one target; None when the group takes none (its SQL
    is then sent without parameters, and % needs no doubling)."""
    if not names:
        return None
    return {name: SQL_PARAMETERS[name][1](target, settings) for name in names}
