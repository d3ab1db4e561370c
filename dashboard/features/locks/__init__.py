"""Locks (/locks): lock waits over time and every stored wait, wait events, deadlocks and
conflicts per database, prepared transactions — to reconstruct a past incident.

`page.py` lays it out; `data.py` reads the store; `logic.py` builds the tables (pure);
`charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("locks", "Locks", "locks", order=50, icon=":material/lock:"),)
