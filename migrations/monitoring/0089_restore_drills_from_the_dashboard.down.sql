SET lock_timeout = '5s';

-- Back to 0079's audit trail. Drills started from the dashboard keep their rows: their
-- trigger becomes 'command' (the closest the old constraint allows) and their actor goes.
-- A drill's record is append-only (0051), so the trigger is lifted for this rewrite only.
CREATE OR REPLACE VIEW kasho_ops.audit_log AS
SELECT at, 'sign_in'::text AS kind, identity AS actor, role AS actor_role,
       NULL::text AS target, outcome AS action, outcome,
       concat_ws(' · ', 'mode ' || mode, 'from ' || peer_address, detail) AS detail
FROM kasho_ops.sign_ins
UNION ALL
SELECT acted_at, 'dba_action', actor, actor_role, target, action, outcome,
       concat_ws(' · ', 'pid ' || pid, 'role ' || usename, 'application ' || application_name,
                 'database ' || datname, error)
FROM kasho_ops.dba_actions
UNION ALL
SELECT run_at, 'explain', actor, actor_role, target, 'explain',
       coalesce(outcome, 'no outcome recorded'),
       concat_ws(' · ', 'database ' || datname, 'queryid ' || queryid, error)
FROM kasho_ops.explain_audit
UNION ALL
SELECT at, 'alert', actor, actor_role, target, action, outcome,
       concat_ws(' · ', 'alert ' || alert_id, 'silence ' || silence_id,
                 'matchers ' || (SELECT string_agg(m ->> 'label' || (m ->> 'op') || (m ->> 'value'), ', ')
                                 FROM jsonb_array_elements(matchers) m),
                 'from ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                 'until ' || to_char(ends_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC',
                 nullif(comment, ''))
FROM kasho_ops.alert_actions
UNION ALL
SELECT measured_at, 'exact_bloat', actor, actor_role, target, 'exact_bloat', outcome,
       concat_ws(' · ', 'database ' || datname, 'relation ' || schemaname || '.' || relname,
                 'kind ' || kind, 'method ' || method, error)
FROM kasho_ops.bloat_measurements
UNION ALL
SELECT advised_at, 'index_advice', actor, actor_role, target, 'index_advice', outcome,
       concat_ws(' · ', 'database ' || datname, 'queryid ' || queryid,
                 'index ' || suggested_index, error)
FROM kasho_ops.index_advice_runs
UNION ALL
SELECT started_at, 'restore_drill',
       CASE trigger WHEN 'schedule' THEN 'collector schedule'
                    ELSE 'kasho-ops restore-drill' END,
       NULL, target, 'restore_drill', outcome,
       concat_ws(' · ', 'stanza ' || stanza, 'backup ' || backup_label,
                 'recovered to ' || recovered_to, error)
FROM kasho_ops.restore_drills;

DROP TABLE kasho_ops.restore_drill_starts;
ALTER TABLE kasho_ops.restore_drills DISABLE TRIGGER restore_drills_append_only;
UPDATE kasho_ops.restore_drills SET trigger = 'command' WHERE trigger = 'dashboard';
ALTER TABLE kasho_ops.restore_drills ENABLE TRIGGER restore_drills_append_only;
ALTER TABLE kasho_ops.restore_drills
    DROP CONSTRAINT restore_drills_trigger_check,
    ADD CONSTRAINT restore_drills_trigger_check CHECK (trigger IN ('command', 'schedule')),
    DROP COLUMN actor_role,
    DROP COLUMN actor;
