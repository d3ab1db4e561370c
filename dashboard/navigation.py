"""The dashboard's pages, gathered from the features: each `dashboard/features/<feature>/`
declares `PAGES` (PageSpec) in its `__init__.py`; this module collects and orders them.

The app root (/) is a hidden page that forwards to the first page, keeping the query string,
so every visible page (the first included) has its own URL: /overview?target=…&range=….
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import streamlit as st

from collectors.core.access import Permission, Role, permits
from dashboard import features
from dashboard.core.pages import PageSpec

DASHBOARD_DIR = Path(__file__).resolve().parent


def discover_pages() -> list[PageSpec]:
    """Every feature's PageSpecs, in sidebar order."""
    specs: list[PageSpec] = []
    for module_info in pkgutil.iter_modules(features.__path__):
        module = importlib.import_module(f"{features.__name__}.{module_info.name}")
        specs.extend(getattr(module, "PAGES", ()))
    return sorted(specs, key=lambda spec: (spec.order, spec.title))


PAGES: list[PageSpec] = discover_pages()


def pages_for(role: Role | None) -> list[PageSpec]:
    """The pages `role` may open, in sidebar order."""
    return [spec for spec in PAGES if permits(role, spec.permission)]


def permission_of(url_path: str) -> Permission:
    """What a page needs; the hidden root forwarder needs what every page needs."""
    return next((spec.permission for spec in PAGES if spec.url_path == url_path), "view")


def build_pages(specs: list[PageSpec] | None = None) -> list[st.Page]:
    """Fresh st.Page objects for this run (they carry per-run state, so never share them):
    a hidden root page that forwards to the first page, then every page in `specs`."""
    specs = PAGES if specs is None else specs
    pages = [st.Page(DASHBOARD_DIR / spec.script_path, title=spec.title, icon=spec.icon,
                     url_path=spec.url_path) for spec in specs]
    landing = pages[0]

    def forward_to_first_page() -> None:
        st.switch_page(landing, query_params=st.query_params.to_dict())

    root = st.Page(forward_to_first_page, title="Kasho Ops", url_path="home", default=True,
                   visibility="hidden")
    return [root, *pages]


def is_live(url_path: str) -> bool:
    return any(spec.live and spec.url_path == url_path for spec in PAGES)
