"""Kasho Ops dashboard: a Streamlit multipage app reading the metrics store.

`app.py` is the entry point and router (page config, config file, sidebar, then the current
page); `navigation.py` gathers the pages every feature declares; `core/` holds what every page
shares (context, sidebar, store reads and caching, figure helpers, units, freshness);
`features/<feature>/` holds one capability each (`page.py` layout only, `data.py` store
reads, `logic.py` and `charts.py` pure and unit-tested).
"""
