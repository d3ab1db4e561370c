"""The Kasho demo: a throwaway server with a fintech database under a live payments load.

`cluster.py` starts a throwaway PostgreSQL 15 cluster from the system's binaries (as the
`postgres` OS user when run as root); `seed.py` fills a database that has the Kasho
migrations applied with deterministic users, accounts and a payments history on the
documented columns only, generated server-side, plus the `kasho_demo.accounts` pick list;
`workload.py` runs pgbench with the sqlc-annotated scripts in `workload/` (balance reads,
statements, card payments, deposits, withdrawals, transfers, checkouts at hot merchant
accounts, settlement, chargebacks, sign-ups, a monthly report, a fee batch) as the
application role `kasho_app`, application_name 'kasho-demo-workload'; `roles.py` creates
that role and Kasho Ops' business role with their GRANTs; `explain_role.py` creates the role
the demo's `explain_dsn` names, so EXPLAIN can plan the workload's statements; `run.py` is
`kasho-ops demo`.
"""
