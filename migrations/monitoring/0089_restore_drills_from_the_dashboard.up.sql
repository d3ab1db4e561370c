SET lock_timeout = '5s';

-- Restore drills started from the Backups page (admins): who started one, and every attempt.
-- kasho_ops.restore_drill_starts holds one row per press of "Start", refusals included
-- (denied: the role does not permit restore_drill; refused: actions are off, the target has
-- no stanza, or a drill of that target is already running; failed: nothing could start);
-- append-only like the other audit tables. A drill started there records its actor and role
-- in kasho_ops.restore_drills with trigger 'dashboard'. The audit trail lists both.
-- Numbered at the end of the 0080 range, like 0079, so it runs after every merged migration
-- (one version table: a lower number would never run on a store already past it) and
-- defines kasho_ops.audit_log last.
CREATE TABLE kasho_ops.restore_drill_starts (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    actor          text        NOT NULL,
    actor_role     text        CHECK (actor_role IN ('viewer', 'operator', 'admin')),
    target         text        NOT NULL,
    requested_time timestamptz,
    outcome        text        NOT NULL CHECK (outcome IN ('started', 'denied', 'refused',
                                                            'failed')),
    error          text
);
CREATE INDEX restore_drill_starts_target_time_idx
    ON kasho_ops.restore_drill_starts (target, requested_at DESC);
CREATE TRIGGER restore_drill_starts_append_only BEFORE UPDATE OR DELETE
    ON kasho_ops.restore_drill_starts
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER restore_drill_starts_no_truncate BEFORE TRUNCATE
    ON kasho_ops.restore_drill_starts
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();

-- Nullable: drills from the command and the schedule have no dashboard identity.
ALTER TABLE kasho_ops.restore_drills
    ADD COLUMN actor text,
    ADD COLUMN actor_role text CHECK (actor_role IN ('viewer', 'operator', 'admin')),
    DROP CONSTRAINT restore_drills_trigger_check,
    ADD CONSTRAINT restore_drills_trigger_check
        CHECK (trigger IN ('command', 'schedule', 'dashboard'));

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
       coalesce(actor, CASE trigger WHEN 'schedule' THEN 'collector schedule'
                                    ELSE 'kasho-ops restore-drill' END),
       actor_role, target, 'restore_drill', outcome,
       concat_ws(' · ', 'stanza ' || stanza, 'backup ' || backup_label,
                 'recovered to ' || recovered_to, error)
FROM kasho_ops.restore_drills
UNION ALL
SELECT requested_at, 'restore_drill', actor, actor_role, target, 'start_drill', outcome,
       concat_ws(' · ', 'to ' || to_char(requested_time AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD HH24:MI:SS') || ' UTC', error)
FROM kasho_ops.restore_drill_starts;
