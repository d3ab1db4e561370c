SET lock_timeout = '5s';

-- The EXPLAIN audit is two append-only steps: the attempt (kasho_ops.explain_runs) is written
-- before anything is sent to the monitored server, its outcome (kasho_ops.explain_outcomes)
-- after. An attempt without an outcome is one that never finished (the process died, or the
-- store went away in between). Existing rows keep their outcome, moved to the new table.
CREATE TABLE kasho_ops.explain_outcomes (
    run_id      bigint      PRIMARY KEY REFERENCES kasho_ops.explain_runs (id),
    finished_at timestamptz NOT NULL DEFAULT now(),
    outcome     text        NOT NULL CHECK (outcome IN ('planned', 'refused', 'failed')),
    error       text        -- never quotes a sample value
);
INSERT INTO kasho_ops.explain_outcomes (run_id, finished_at, outcome, error)
SELECT id, run_at, outcome, error FROM kasho_ops.explain_runs;
ALTER TABLE kasho_ops.explain_runs DROP COLUMN outcome, DROP COLUMN error;

-- kasho_ops.reject_audit_change() comes from 0005.
CREATE TRIGGER explain_outcomes_append_only BEFORE UPDATE OR DELETE ON kasho_ops.explain_outcomes
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER explain_outcomes_no_truncate BEFORE TRUNCATE ON kasho_ops.explain_outcomes
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();

-- One row per attempt, as a DBA reads the trail: outcome NULL = no outcome recorded.
CREATE VIEW kasho_ops.explain_audit AS
SELECT r.id, r.run_at, r.actor, r.target, r.datname, r.queryid, r.sample_values,
       o.finished_at, o.outcome, o.error
FROM kasho_ops.explain_runs r
LEFT JOIN kasho_ops.explain_outcomes o ON o.run_id = r.id;
