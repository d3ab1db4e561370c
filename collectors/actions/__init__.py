"""What a DBA triggers from the dashboard, never on a schedule, each audited before it runs.

`explain.py` plans one collected statement (read-only, never ANALYZE, under a timeout);
`signal.py` cancels or terminates a backend through the target's `actions_dsn`, refusing
Kasho Ops' own sessions; `bloat_measure.py` measures one relation's bloat exactly with
pgstattuple (admins only, gated by actions_enabled, bounded, skipping locked relations);
`index_advice.py` checks whether a hypothetical index (hypopg) makes a statement cheaper
(the explain permission);
`audit.py` opens the store session they all write their append-only audit rows through
(no audit, no action).
"""
