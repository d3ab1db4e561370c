SET lock_timeout = '5s';

-- The audit trail of DBA actions taken from the dashboard (cancel a query, terminate a
-- backend): one row per attempt, refusals and failures included. Append-only: triggers
-- reject UPDATE, DELETE and TRUNCATE. Not partitioned, so metric retention never drops it.
-- query holds the target session's statement with its literals masked, truncated.
CREATE TABLE kasho_ops.dba_actions (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    acted_at         timestamptz NOT NULL DEFAULT now(),
    actor            text        NOT NULL,
    target           text        NOT NULL,
    pid              integer     NOT NULL,
    action           text        NOT NULL CHECK (action IN ('cancel', 'terminate')),
    outcome          text        NOT NULL
                     CHECK (outcome IN ('signalled', 'refused', 'not_found', 'failed')),
    error            text,
    backend_start    timestamptz,
    usename          text,
    application_name text,
    datname          text,
    query            text
);
CREATE INDEX dba_actions_target_time_idx ON kasho_ops.dba_actions (target, acted_at DESC);

-- kasho_ops.reject_audit_change() comes from 0005.
CREATE TRIGGER dba_actions_append_only BEFORE UPDATE OR DELETE ON kasho_ops.dba_actions
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER dba_actions_no_truncate BEFORE TRUNCATE ON kasho_ops.dba_actions
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();
