"""Indexes (/indexes): findings a DBA acts on — invalid, unused, duplicate and redundant
indexes, and tables whose sequential scans read many rows and may lack one — each with its
size, the write cost it adds, why it matters, how sure the finding is and the DDL a DBA
would run (shown, never run); index advice with hypopg; index cache hit ratios.

`page.py` lays it out; `data.py` reads the store (tracked tables and indexes from
dashboard/core/relations.py); `logic.py` builds the findings (pure). Advice runs through
collectors/actions/index_advice.py (audited).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("indexes", "Indexes", "indexes", order=62, icon=":material/account_tree:"),)
