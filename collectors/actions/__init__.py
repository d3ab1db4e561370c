"""What a DBA triggers from the dashboard, never on a schedule, each audited before it runs.

`explain.py` plans one collected statement (extended protocol: one statement, enforced by the
server; read-only, never ANALYZE, under a timeout; through the target's `explain_dsn`);
`signal.py` cancels or terminates a client backend through the target's `actions_dsn`, never
this process's own sessions; `bloat_measure.py` measures one relation's bloat exactly with
pgstattuple (admins only, gated by actions_enabled, bounded, skipping locked relations);
`index_advice.py` checks whether a hypothetical index (hypopg) makes a statement cheaper
(the explain permission and role, planned as EXPLAIN plans); `audit.py` opens the store
session they all write their append-only audit rows through (no audit, no action).
"""
