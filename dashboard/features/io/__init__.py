"""I/O and checkpoints (/io): checkpoints timed vs requested, their write and sync time,
buffers written by checkpoints, the background writer and backends, I/O by backend type and
context (pg_stat_io, 16+), and the statements with the most I/O time and WAL pressure.

`page.py` lays it out; `data.py` reads the store; `logic.py` shapes tables and tiles (pure);
`charts.py` draws (pure).
"""

from dashboard.core.pages import PageSpec

PAGES = (PageSpec("io", "I/O and checkpoints", "io", order=55, icon=":material/storage:"),)
