"""Builders shared by the collector integration tests: configs and collectors on real clusters."""

from __future__ import annotations

from pathlib import Path

from collectors.core.config import Config, parse_config
from collectors.core.metric_groups import load_catalog
from collectors.core.scheduler import Collector
from collectors.core.store import MetricStore
from demo.cluster import LocalCluster
from tests.conftest import MONITOR_ROLE


def make_config(store_dsn: str, targets: dict[str, str],
                business: dict[str, str] | None = None, **collector: object) -> Config:
    """A config of these targets (name -> dsn), with business_dsn for those in `business`."""
    raw = {"store": {"dsn": store_dsn},
           "targets": [{"name": name, "dsn": dsn,
                        **({"business_dsn": business[name]} if name in (business or {}) else {})}
                       for name, dsn in targets.items()],
           "collector": collector}
    return parse_config(raw, environ={}, known_groups=set(load_catalog()))


def monitor_dsn(cluster: LocalCluster, dbname: str = "postgres") -> str:
    return cluster.dsn(dbname, MONITOR_ROLE)


def confirming_store(config: Config) -> MetricStore:
    """The config's metrics store, open, with `confirm_writes`: a run returns once the store's
    writer thread has tried its rows, so a test reads what it wrote. The caller closes it."""
    store = MetricStore(config.store.dsn, confirm_writes=True)
    store.open()
    return store


def open_collector(config: Config, group_names: list[str] | None = None) -> Collector:
    """A collector on a `confirming_store`, so a test can read what its runs wrote, and each
    RunRecord says what happened."""
    catalog = load_catalog()
    groups = [catalog[n] for n in group_names] if group_names else list(catalog.values())
    return Collector(config, groups, confirming_store(config))


def write_config_file(path: Path, store_dsn: str, targets: dict[str, str],
                      extra: str = "", business: dict[str, str] | None = None) -> Path:
    lines = ["[store]", f'dsn = "{store_dsn}"', ""]
    for name, dsn in targets.items():
        lines += ["[[targets]]", f'name = "{name}"', f'dsn = "{dsn}"']
        if name in (business or {}):
            lines.append(f'business_dsn = "{(business or {})[name]}"')
        lines.append("")
    path.write_text("\n".join(lines) + extra)
    return path
