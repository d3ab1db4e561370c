"""Audit (/audit, admins only): who signed in, and every audited action (cancel, terminate,
EXPLAIN, exact bloat, index advice, silence, acknowledge, restore drill), with filters.

`page.py` lays it out; `data.py` reads kasho_ops.audit_log (the audit tables in one shape);
`logic.py` filters and counts it (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("audit", "Audit", "audit", order=95, icon=":material/policy:",
                  permission="read_audit"),)
