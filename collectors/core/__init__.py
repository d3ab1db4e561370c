"""The collection pipeline: from a catalogue entry to rows in the metrics store.

`config.py` loads and validates kasho-ops.toml with environment overrides; `errors.py` holds
the one-line errors the CLI reports; `redact.py` keeps passwords out of output (`Secret`,
`redact`); `connections.py` opens safe, pooled, read-only sessions to targets and owns
`QUERY_MARKER`; `metric_groups.py` loads the metric definitions in `collectors/catalog/`;
`deltas.py` turns cumulative counters into per-interval deltas with reset and restart
detection (pure); `sampling.py` keeps the windows of sampled groups (active sessions read
every second, stored as per-interval averages); `engine.py` runs one group against one
target and records the run;
`store.py` writes rows and run records to the store with COPY into daily partitions;
`scheduler.py` runs every group for every target on its interval, with backoff for targets
that are down.
"""
