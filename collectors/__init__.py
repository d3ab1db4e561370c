"""Kasho Ops collectors: everything that reads monitored servers and writes the metrics store.

`catalog/` holds the metric definitions as data (one `catalogue.toml` listing every group, one
SQL file per lowest server major under `catalog/<group>/`); `core/` is the pipeline that runs
them (config, safe connections, the engine, deltas, the store writer, the scheduler);
`actions/` holds what a DBA triggers on demand (EXPLAIN, cancel/terminate) and their audit
trail; `live/` reads a server "now" for the live pages; `alerts/` evaluates the alert rules
and sends notifications; `exporters/` answers Nagios checks and serves /metrics;
`migrate.py` is the golang-migrate-compatible migration runner; `cli.py` is the `kasho-ops`
command.
"""
