"""Who the audit trails name as acting, until the dashboard has sign-in.

Nobody can be named yet: an audited action records how it was allowed instead. Actions
gated by `[dashboard] actions_enabled` (which anyone reaching the dashboard may then use)
say so; read-only ones (planning a statement) do not need the gate.
"""

UNAUTHENTICATED = "unauthenticated"
UNAUTHENTICATED_ACTIONS = "unauthenticated (actions_enabled)"
