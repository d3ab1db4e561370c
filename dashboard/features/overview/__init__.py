"""Overview (/overview): headline tiles, database size, connections, transactions, cache hit
ratio and collection freshness for one target.

`page.py` lays it out; `data.py` reads the store; `logic.py` computes the headline numbers
and transaction rates (pure); `charts.py` draws the four charts (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("overview", "Overview", "overview", order=10, icon=":material/monitoring:"),)
