SET lock_timeout = '5s';

DROP VIEW kasho_ops.audit_log;
ALTER TABLE kasho_ops.explain_runs DROP CONSTRAINT explain_runs_outcome_check;
ALTER TABLE kasho_ops.explain_runs ADD CONSTRAINT explain_runs_outcome_check
    CHECK (outcome IN ('planned', 'refused', 'failed'));
ALTER TABLE kasho_ops.dba_actions DROP CONSTRAINT dba_actions_outcome_check;
ALTER TABLE kasho_ops.dba_actions ADD CONSTRAINT dba_actions_outcome_check
    CHECK (outcome IN ('signalled', 'refused', 'not_found', 'failed'));
ALTER TABLE kasho_ops.explain_runs DROP COLUMN actor_role;
ALTER TABLE kasho_ops.dba_actions DROP COLUMN actor_role;
DROP TABLE kasho_ops.sign_ins;
