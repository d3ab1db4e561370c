"""The collection pipeline: from a catalogue entry to rows in the metrics store.

`config.py` loads and validates kasho-ops.toml with environment overrides; `errors.py` holds the
one-line errors the CLI reports; `redact.py` keeps passwords out of output (`Secret`, `redact`);
`sqltext.py` is the one SQL lexer (PostgreSQL's lexical rules): literal masking, statement
checks, table names and statement titles (sqlc names) for every statement text; `deadlines.py`
gives every round trip to a server a client-side deadline (a watchdog that abandons a connection
a frozen server never answers on); `connections.py` opens safe, pooled, read-only sessions to
targets, knows this process's own backend pids (`TrackedConnection`); `query_marker.py` marks
every statement sent to a monitored server and recognises ours; `db.py` is the thin typed layer
for one-value reads; `metric_groups.py` loads the metric definitions in `collectors/catalog/`;
`sql_parameters.py` names the config values a group's SQL may bind (`top_tables`,
`disk_capacity_bytes`); `host_filesystem.py` reads a database host's filesystem (statvfs) for
targets whose collector runs there; `deltas.py` turns cumulative counters into per-interval
deltas with reset and restart detection (pure); `sampling.py` keeps the windows of sampled
groups (active sessions read every second, stored as per-interval averages); `baselines.py`
keeps each counter group's last raw sample per target in the store and advances it only together
with the rows computed from it; `incremental.py` gives incremental groups their window of rows
created or updated since the previous run, from a watermark kept in the store and advanced with
the window's rows; `engine.py` runs one group against one target and records the run; `store.py`
writes rows and run records to the store with COPY into daily partitions and applies retention
per table, through `store_writer.py`'s bounded queue and writer thread so collection never waits
for the store; `scheduler.py` runs every group for every target on its interval, with a circuit
breaker and backoff for targets that are down; `durations.py` formats the durations its log
lines show; `leases.py` shares the targets between collector processes through leases in the
store; `target_kinds.py` reads a group from each kind of target (a PostgreSQL server, a
PgBouncer admin console) and `admin_console.py` shapes PgBouncer's SHOW answers into store rows
(pure).
"""
