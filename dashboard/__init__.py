"""Kasho Ops dashboard: a Streamlit multipage app reading the metrics store.

`app.py` is the entry point and router (page config, config file, sidebar with target and
time range mirrored in the URL, then the current page); `navigation.py` holds PAGES, the one
list of pages (add a PageSpec to add a page); `context.py` defines PageContext (target,
range, start, end, config), which a page reads with `context.current()`; `sidebar.py` keeps
the sidebar choices in st.query_params; `data.py` makes cached, read-only, parameterised
reads from the store; `charts.py` turns DataFrames into plotly figures (pure);
`summary.py` computes and formats the headline metrics (pure); `freshness.py` rates each
metric group ok / stale / failing / never (pure); `units.py` formats bytes, rates and ages;
`query_data.py`, `query_analysis.py` (pure) and `query_charts.py` (pure) are the reads,
logic and charts of the Queries page; `activity_data.py` (store reads, the audit trail and
the live read), `activity_tables.py` (pure: headline numbers and tables) and
`activity_charts.py` (pure) serve the Connections, Activity and Locks pages; `views/`
holds the page scripts, layout only (`overview.py`, `queries.py`, `connections.py`,
`activity.py`, `locks.py`).
"""
