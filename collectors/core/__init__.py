"""The collection pipeline: from a catalogue entry to rows in the metrics store.

`config.py` loads and validates kasho-ops.toml with environment overrides; `errors.py` holds
the one-line errors the CLI reports; `redact.py` keeps passwords out of output (`Secret`,
`redact`); `connections.py` opens safe, pooled, read-only sessions to targets and owns
`QUERY_MARKER`; `db.py` is the thin typed layer for one-value reads; `metric_groups.py`
loads the metric definitions in `collectors/catalog/`; `deltas.py` turns cumulative counters
into per-interval deltas with reset and restart detection (pure); `baselines.py` keeps each
counter group's last raw sample per target in the store and advances it only together with
the rows computed from it; `engine.py` runs one group against one target and records the
run; `store.py` writes rows and run records to the store with COPY into daily partitions;
`scheduler.py` runs every group for every target on its interval, with backoff for targets
that are down.
"""
