"""The collection pipeline: from a catalogue entry to rows in the metrics store.

`config.py` loads and validates kasho-ops.toml with environment overrides; `errors.py` holds the
one-line errors the CLI reports; `redact.py` keeps passwords out of output (`Secret`, `redact`);
`sqltext.py` is the one SQL lexer (PostgreSQL's lexical rules): literal masking, statement
checks, table names and statement titles (sqlc names) for every statement text; `connections.py`
opens safe, pooled, read-only sessions to targets, owns `QUERY_MARKER` and knows this process's
own backend pids (`TrackedConnection`); `db.py` is the thin typed layer for one-value reads;
`metric_groups.py` loads the metric definitions in `collectors/catalog/`; `deltas.py` turns
cumulative counters into per-interval deltas with reset and restart detection (pure);
`sampling.py` keeps the windows of sampled groups (active sessions read every second, stored as
per-interval averages); `baselines.py` keeps each counter group's last raw sample per target in
the store and advances it only together with the rows computed from it; `engine.py` runs one
group against one target and records the run; `store.py` writes rows and run records to the
store with COPY into daily partitions and applies retention per table; `scheduler.py` runs every
group for every target on its interval, with backoff for targets that are down; `leases.py`
shares the targets between collector processes through leases in the store; `target_kinds.py`
reads a group from each kind of target (a PostgreSQL server, a PgBouncer admin console) and
`admin_console.py` shapes PgBouncer's SHOW answers into store rows (pure).
"""
