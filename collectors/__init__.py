"""Kasho Ops collectors: everything that reads monitored servers and writes the metrics store.

`config.py` loads and validates kasho-ops.toml with environment overrides; `redact.py` keeps
passwords out of output (`Secret`, `redact`); `errors.py` holds the one-line errors the CLI
reports; `connections.py` opens safe, pooled, read-only sessions to targets;
`metric_groups.py` loads the metric definitions in `catalog/` (one catalogue plus one SQL
file per minimum server major); `deltas.py` turns cumulative counters into per-interval
deltas with reset and restart detection; `engine.py` runs one group against one target and
records the run; `store.py` writes rows and run records to the store with COPY into daily
partitions; `scheduler.py` runs every group for every target on its interval with backoff
for targets that are down; `migrate.py` is the golang-migrate-compatible migration runner;
`cli.py` is the `kasho-ops` command; `explain.py` plans one collected statement on demand
(a DBA action: read-only, never ANALYZE, under a timeout); `activity.py` reads a target's
sessions live for the Activity page, masks query literals and builds the blocking forest;
`actions.py` cancels or terminates a backend through the target's `actions_dsn`, refusing
our own sessions, and audits every attempt in kasho_ops.dba_actions.
"""
