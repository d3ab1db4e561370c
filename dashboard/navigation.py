"""The dashboard's pages, in one list: add a page by appending a PageSpec to PAGES.

Each page is a script under dashboard/views/ served at /<url_path>. The app root (/) is a
hidden page that forwards to the first page, keeping the query string, so every visible
page (the first included) has its own URL: /overview?target=…&range=….
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

DASHBOARD_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PageSpec:
    script: str  # path relative to dashboard/, e.g. "views/overview.py"
    title: str
    url_path: str
    icon: str | None = None
    live: bool = False  # reads the monitored server now, not the store's history


PAGES: list[PageSpec] = [
    PageSpec("views/overview.py", "Overview", "overview", ":material/monitoring:"),
    PageSpec("views/queries.py", "Queries", "queries", ":material/query_stats:"),
    PageSpec("views/connections.py", "Connections", "connections", ":material/lan:"),
    PageSpec("views/activity.py", "Activity now", "activity", ":material/bolt:", live=True),
    PageSpec("views/locks.py", "Locks", "locks", ":material/lock:"),
]


def build_pages(specs: list[PageSpec] | None = None) -> list[st.Page]:
    """Fresh st.Page objects for this run (they carry per-run state, so never share them):
    a hidden root page that forwards to the first page, then every page in `specs`."""
    specs = PAGES if specs is None else specs
    pages = [st.Page(DASHBOARD_DIR / spec.script, title=spec.title, icon=spec.icon,
                     url_path=spec.url_path) for spec in specs]
    landing = pages[0]

    def forward_to_first_page() -> None:
        st.switch_page(landing, query_params=st.query_params.to_dict())

    root = st.Page(forward_to_first_page, title="Kasho Ops", url_path="home", default=True,
                   visibility="hidden")
    return [root, *pages]


def is_live(url_path: str) -> bool:
    return any(spec.live and spec.url_path == url_path for spec in PAGES)
