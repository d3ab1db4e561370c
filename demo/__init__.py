"""The Kasho demo: a throwaway server with a fintech database under a live payments load.

`cluster.py` starts a throwaway PostgreSQL 15 cluster from the system's binaries (as the
`postgres` OS user when run as root); `seed.py` fills a database that has the Kasho
migrations applied with deterministic users, accounts and a payments history, generated
server-side, plus the `demo_accounts` pick list; `workload.py` runs pgbench with the scripts
in `workload/` (balance reads, statements, transfers, deposits, card payments, settlement,
chargebacks, a monthly report) as application_name 'kasho-demo-workload';
`explain_role.py` creates the role the demo's `explain_dsn` names, so EXPLAIN can plan the
workload's statements.
"""
