"""Activity now (/activity): the server's sessions read live, who blocks whom, and the audited
cancel/terminate actions.

`page.py` lays it out; `data.py` reads the live snapshot and the action audit trail;
`logic.py` turns a snapshot into tables and counts (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("activity", "Activity now", "activity", order=40, icon=":material/bolt:",
                  live=True),)
