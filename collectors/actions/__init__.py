"""What a DBA triggers from the dashboard, never on a schedule, each audited before it runs.

`explain.py` plans one collected statement (read-only, never ANALYZE, under a timeout);
`signal.py` cancels or terminates a backend through the target's `actions_dsn`, refusing
Kasho Ops' own sessions; `audit.py` opens the store session both write their append-only
audit rows through (no audit, no action).
"""
