"""Storage (/storage): how much disk the cluster uses, how fast it grows and when the disk
fills; sizes per database, schema, tablespace, WAL and table; the largest and
fastest-growing tables; what is read from disk and what sits in shared buffers.

`page.py` lays it out; `data.py` reads the store (the tracked tables come from
dashboard/core/relations.py); `logic.py` builds the tables and the forecast's wording
(pure); `charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("storage", "Storage", "storage", order=60, icon=":material/hard_drive:"),)
