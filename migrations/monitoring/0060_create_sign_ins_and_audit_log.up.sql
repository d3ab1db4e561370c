SET lock_timeout = '5s';

-- Who signed in to the dashboard (and who was refused, and who signed out): one row per
-- dashboard session of a signed-in identity. Append-only like every audit table, outside
-- retention. peer_address is the TCP peer of the browser's connection (the proxy's, in
-- proxy mode).
CREATE TABLE kasho_ops.sign_ins (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    identity      text        NOT NULL,
    role          text        CHECK (role IN ('viewer', 'operator', 'admin')),
    mode          text        NOT NULL CHECK (mode IN ('none', 'proxy', 'oidc')),
    peer_address  text,
    outcome       text        NOT NULL CHECK (outcome IN ('signed_in', 'denied', 'signed_out')),
    detail        text
);
CREATE INDEX sign_ins_at_idx ON kasho_ops.sign_ins (at DESC);
CREATE TRIGGER sign_ins_append_only BEFORE UPDATE OR DELETE ON kasho_ops.sign_ins
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER sign_ins_no_truncate BEFORE TRUNCATE ON kasho_ops.sign_ins
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();

-- The role the actor held when acting (NULL for rows written before sign-in existed).
ALTER TABLE kasho_ops.dba_actions ADD COLUMN actor_role text;
ALTER TABLE kasho_ops.explain_runs ADD COLUMN actor_role text;
ALTER TABLE kasho_ops.dba_actions DROP CONSTRAINT dba_actions_outcome_check;
ALTER TABLE kasho_ops.dba_actions ADD CONSTRAINT dba_actions_outcome_check
    CHECK (outcome IN ('signalled', 'refused', 'not_found', 'failed', 'denied'));
ALTER TABLE kasho_ops.explain_outcomes DROP CONSTRAINT explain_outcomes_outcome_check;
ALTER TABLE kasho_ops.explain_outcomes ADD CONSTRAINT explain_outcomes_outcome_check
    CHECK (outcome IN ('planned', 'refused', 'failed', 'denied'));
CREATE OR REPLACE VIEW kasho_ops.explain_audit AS
SELECT r.id, r.run_at, r.actor, r.target, r.datname, r.queryid, r.sample_values,
       o.finished_at, o.outcome, o.error, r.actor_role
FROM kasho_ops.explain_runs r
LEFT JOIN kasho_ops.explain_outcomes o ON o.run_id = r.id;

-- Every audit table in one shape, for the /audit page and `kasho-ops audit`.
CREATE VIEW kasho_ops.audit_log AS
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
