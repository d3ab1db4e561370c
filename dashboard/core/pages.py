"""How a feature declares its pages: a `PAGES` tuple of PageSpec in its package `__init__.py`.

`dashboard/navigation.py` gathers them from every feature folder, so adding a page never
touches a central list. `order` places the page in the sidebar (lower first); `permission`
is what the signed-in role needs to open it (collectors/core/access.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from collectors.core.access import Permission


@dataclass(frozen=True)
class PageSpec:
    feature: str  # the folder under dashboard/features/
    title: str
    url_path: str
    order: int
    icon: str | None = None
    script: str = "page.py"  # relative to the feature's folder
    live: bool = False  # reads the monitored server now, not the store's history
    permission: Permission = "view"  # app.py checks it before the page runs

    @property
    def script_path(self) -> str:
        """The page script relative to dashboard/, as st.Page and AppTest name it."""
        return f"features/{self.feature}/{self.script}"
