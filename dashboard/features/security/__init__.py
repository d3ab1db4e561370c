"""Security (/security): the security posture of each target — access control, encryption,
audit logging, data masking — and the setup check of what Kasho Ops itself cannot collect.

`page.py` lays it out; `data.py` reads the latest security_* samples from the store;
`logic.py` judges them into checks with state, why and fix (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("security", "Security", "security", order=90, icon=":material/shield:"),)
