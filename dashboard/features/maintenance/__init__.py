"""Maintenance (/maintenance): is vacuum keeping up? Vacuum and analyze status per table
with autovacuum's own trigger points, maintenance running now with its progress, XID and
multixact wraparound per database with the time to emergency, what holds the xmin horizon
back, and table and index bloat (estimated, and measured exactly on request).

`page.py` lays it out; `data.py` reads the store (tracked tables from
dashboard/core/relations.py); `logic.py` builds the tables and diagnoses (pure);
`charts.py` draws the wraparound gauges and history (pure). The exact bloat measure runs
through collectors/actions/bloat_measure.py (audited).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("maintenance", "Maintenance", "maintenance", order=61,
                  icon=":material/cleaning_services:"),)
