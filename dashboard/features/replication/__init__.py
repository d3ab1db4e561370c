"""Replication (/replication): on a primary, its standbys (state, sync state, lag in bytes
and time, over time) and its replication slots (WAL retained, wal_status, safe_wal_size);
on a standby, its replay delay, last replayed transaction, pause state and upstream.

`page.py` lays it out; `data.py` reads the store; `logic.py` builds the tables (pure);
`charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("replication", "Replication", "replication", order=65,
                  icon=":material/sync_alt:"),)
