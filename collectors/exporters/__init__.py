"""What the tools an on-call rotation already runs read from Kasho Ops.

`check.py` is `kasho-ops check`: check_postgres' actions, thresholds and output as a Nagios
plugin, answered from the store where it can; `thresholds.py` parses check_postgres'
threshold syntax (pure); `prometheus.py` keeps the latest run of every group in memory and
serves it as Prometheus `/metrics`, with postgres_exporter's names from `prometheus.toml`
where they overlap.
"""
