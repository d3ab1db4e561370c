SET lock_timeout = '5s';

-- The audit trail in one shape (kasho_ops.audit_log: the /audit page, `kasho-ops audit`) lists
-- every audited action: beside sign-ins, cancel/terminate, EXPLAIN (0060) and silences and
-- acknowledgements (0071), also the exact bloat measures and index advice of the Maintenance
-- and Indexes pages (0044) and restore drills (0051; started by `kasho-ops restore-drill` or
-- the collector's schedule, so their actor is that trigger, not a dashboard identity).
-- Numbered after 0071, which defines the view last (the end of the on-call range, so it
-- does not collide with that workstream's next number).
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
