SET lock_timeout = '5s';

-- The audit trail as 0071 left it.
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
FROM kasho_ops.alert_actions;
