"""On call (/oncall), the first page: firing alerts first, then every target on one line, then
what changed in the window; silences, acknowledgements, notification trouble and the
incident snapshot.

`page.py` lays it out; `data.py` reads the store; `logic.py` turns alerts, runs and samples
into tables and timeline events (pure); `charts.py` draws the timeline (pure);
`snapshot.py` writes the self-contained incident snapshot (HTML with plotly inlined), also
behind `kasho-ops snapshot`.
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("oncall", "On call", "oncall", order=5, icon=":material/notifications:"),)
