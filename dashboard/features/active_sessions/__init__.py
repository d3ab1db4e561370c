"""Active sessions (ASH): average active sessions over time, by wait event or statement, from
the active_sessions group (pg_stat_activity sampled every second, stored per interval).

No page of its own: the Overview, Activity and Locks pages show it. `data.py` reads the
store; `logic.py` turns session-seconds per bucket into average active sessions and ranks
statements (pure); `charts.py` draws the stacked chart (pure).
"""

from dashboard.core.pages import PageSpec

GROUP = "active_sessions"
PAGES: tuple[PageSpec, ...] = ()
