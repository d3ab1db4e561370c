"""Queries (/queries): where statement time goes (load shape), what got slower
(regressions), the top statements, and one statement in depth with EXPLAIN.

`page.py` lays it out; `data.py` reads per-interval rows and hourly/daily rollups from the
store; `logic.py` ranks, compares and formats (pure); `charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("queries", "Queries", "queries", order=20, icon=":material/query_stats:"),)
