"""Backups (/backups): can this target be restored, and to when? pgBackRest's backups and
repository, the point-in-time recovery window, WAL archiving, retention (pgBackRest's and the
store's own), restore drills, and the recovery states the collector computed.

`page.py` lays it out; `data.py` reads the store; `logic.py` builds tables and summaries
(pure); `charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("backups", "Backups", "backups", order=60, icon=":material/backup:"),)
