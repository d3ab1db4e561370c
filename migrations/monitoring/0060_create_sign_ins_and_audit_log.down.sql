SET lock_timeout = '5s';

DROP VIEW kasho_ops.audit_log;
DROP VIEW kasho_ops.explain_audit;
CREATE VIEW kasho_ops.explain_audit AS
SELECT r.id, r.run_at, r.actor, r.target, r.datname, r.queryid, r.sample_values,
       o.finished_at, o.outcome, o.error
FROM kasho_ops.explain_runs r
LEFT JOIN kasho_ops.explain_outcomes o ON o.run_id = r.id;
ALTER TABLE kasho_ops.explain_outcomes DROP CONSTRAINT explain_outcomes_outcome_check;
ALTER TABLE kasho_ops.explain_outcomes ADD CONSTRAINT explain_outcomes_outcome_check
    CHECK (outcome IN ('planned', 'refused', 'failed'));
ALTER TABLE kasho_ops.dba_actions DROP CONSTRAINT dba_actions_outcome_check;
ALTER TABLE kasho_ops.dba_actions ADD CONSTRAINT dba_actions_outcome_check
    CHECK (outcome IN ('signalled', 'refused', 'not_found', 'failed'));
ALTER TABLE kasho_ops.explain_runs DROP COLUMN actor_role;
ALTER TABLE kasho_ops.dba_actions DROP COLUMN actor_role;
DROP TABLE kasho_ops.sign_ins;
