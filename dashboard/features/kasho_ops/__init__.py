"""Kasho Ops (/kasho-ops): Kasho Ops watching itself. The collectors alive and the targets
each holds, collector runs per metric group (how long, how late, how often failing, the
latest errors), the store's size per table and per day, the retention in force, and the
store's growth forecast. All targets, not the one in the sidebar.

`page.py` lays it out; `data.py` reads the store; `logic.py` sums sizes and forecasts growth
(pure); `charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("kasho_ops", "Kasho Ops", "kasho-ops", order=90,
                  icon=":material/monitor_heart:"),)
