SET lock_timeout = '5s';

-- Back to one row per attempt: outcomes return to explain_runs (the append-only trigger is
-- held off for this one rewrite); attempts that never finished read as failed.
DROP VIEW kasho_ops.explain_audit;
ALTER TABLE kasho_ops.explain_runs ADD COLUMN outcome text, ADD COLUMN error text;
ALTER TABLE kasho_ops.explain_runs DISABLE TRIGGER explain_runs_append_only;
UPDATE kasho_ops.explain_runs r
SET outcome = coalesce(o.outcome, 'failed'),
    error = CASE WHEN o.run_id IS NULL THEN 'no outcome recorded' ELSE o.error END
FROM kasho_ops.explain_runs r2
LEFT JOIN kasho_ops.explain_outcomes o ON o.run_id = r2.id
WHERE r2.id = r.id;
ALTER TABLE kasho_ops.explain_runs ENABLE TRIGGER explain_runs_append_only;
ALTER TABLE kasho_ops.explain_runs ALTER COLUMN outcome SET NOT NULL,
    ADD CONSTRAINT explain_runs_outcome_check CHECK (outcome IN ('planned', 'refused', 'failed'));
DROP TABLE kasho_ops.explain_outcomes;
