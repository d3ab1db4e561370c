"""One folder per dashboard capability; each declares its pages in `__init__.py` (`PAGES`).

A feature folder holds `page.py` (layout only), `data.py` (cached store reads), `logic.py`
(pure transforms and tables) and `charts.py` (pure plotly builders), as far as it needs them.
A feature shown on other pages has no page of its own (`active_sessions/`: average active
sessions, on the Overview, Activity and Locks pages; its `layout.py` is the table they place).
"""
