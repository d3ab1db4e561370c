SET lock_timeout = '5s';

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
FROM kasho_ops.explain_audit;

DROP TABLE kasho_ops.notifications;
DROP VIEW kasho_ops.alert_acknowledgements;
DROP VIEW kasho_ops.silences;
DROP TABLE kasho_ops.alert_actions;
DROP TABLE kasho_ops.alerts;
