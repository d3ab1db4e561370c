"""Connections (/connections): use against the limit over time, breakdowns by state,
application, role, database and client, idle-in-transaction sessions and the oldest ages,
and the PgBouncer pools in front of the server.

`page.py` lays it out; `data.py` reads the store; `logic.py` holds the utilization rule
and the tables (pure); `charts.py` draws (pure). The PgBouncer section: `pooling.py` (its
layout), `pooling_data.py` (reads), `pooling_logic.py` (saturation, tables, averages; pure),
`pooling_charts.py` (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("connections", "Connections", "connections", order=30, icon=":material/lan:"),)
