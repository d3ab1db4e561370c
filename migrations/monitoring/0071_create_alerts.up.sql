SET lock_timeout = '5s';

-- Alerts: one row per episode of one rule on one target and instance (a database, a slot, a
-- statement; '' for the target as a whole). An episode starts pending when the rule's
-- condition first holds, fires once it has held for the rule's `for` duration and ends
-- resolved when it no longer holds; a pending episode that clears before firing is deleted,
-- as in Prometheus. `value` is the value that triggered (when it went pending, replaced when
-- it fires and when its severity rises); last_value is the latest evaluation's. Not
-- partitioned: the history of alerts outlives metric retention.
CREATE TABLE kasho_ops.alerts (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target            text        NOT NULL,
    rule              text        NOT NULL,
    instance          text        NOT NULL,
    state             text        NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
    severity          text        NOT NULL CHECK (severity IN ('warning', 'critical')),
    value             double precision NOT NULL,
    threshold         double precision NOT NULL,
    last_value        double precision NOT NULL,
    peak_value        double precision NOT NULL,
    detail            text        NOT NULL,
    pending_since     timestamptz NOT NULL,
    firing_since      timestamptz,
    resolved_at       timestamptz,
    last_evaluated_at timestamptz NOT NULL,
    CHECK (state <> 'firing' OR firing_since IS NOT NULL),
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
-- At most one open (pending or firing) episode per rule, target and instance.
CREATE UNIQUE INDEX alerts_open_idx ON kasho_ops.alerts (target, rule, instance)
    WHERE state <> 'resolved';
CREATE INDEX alerts_target_time_idx ON kasho_ops.alerts (target, pending_since DESC);

-- What operators did about alerts from the dashboard, the audit trail and the source of truth
-- of silences and acknowledgements at once: append-only (triggers reject UPDATE, DELETE and
-- TRUNCATE), one row per attempt, refusals included.
--   silence         matchers (a JSON array of {"label", "op", "value"}), starts_at, ends_at
--   expire_silence  silence_id: ends that silence now
--   acknowledge     alert_id: someone is on it (notifications carry on; the home page says who)
CREATE TABLE kasho_ops.alert_actions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    actor_role  text,
    action      text        NOT NULL
                CHECK (action IN ('silence', 'expire_silence', 'acknowledge')),
    outcome     text        NOT NULL CHECK (outcome IN ('done', 'denied')),
    target      text,
    alert_id    bigint,
    silence_id  bigint,
    matchers    jsonb,
    starts_at   timestamptz,
    ends_at     timestamptz,
    comment     text        NOT NULL,
    CHECK (action <> 'silence' OR outcome <> 'done'
           OR (matchers IS NOT NULL AND starts_at IS NOT NULL AND ends_at > starts_at)),
    CHECK (action <> 'expire_silence' OR outcome <> 'done' OR silence_id IS NOT NULL),
    CHECK (action <> 'acknowledge' OR outcome <> 'done' OR alert_id IS NOT NULL)
);
CREATE INDEX alert_actions_at_idx ON kasho_ops.alert_actions (at DESC);
CREATE TRIGGER alert_actions_append_only BEFORE UPDATE OR DELETE ON kasho_ops.alert_actions
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER alert_actions_no_truncate BEFORE TRUNCATE ON kasho_ops.alert_actions
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();

-- Every silence with when it really ends (expired early, or its own end).
CREATE VIEW kasho_ops.silences AS
SELECT s.id, s.at AS created_at, s.actor AS created_by, s.actor_role AS created_by_role,
       s.matchers, s.starts_at, s.ends_at, s.comment,
       e.at AS expired_at, e.actor AS expired_by,
       least(s.ends_at, e.at) AS effective_end
FROM kasho_ops.alert_actions s
LEFT JOIN LATERAL (
    SELECT x.at, x.actor FROM kasho_ops.alert_actions x
    WHERE x.action = 'expire_silence' AND x.outcome = 'done' AND x.silence_id = s.id
    ORDER BY x.at LIMIT 1) e ON true
WHERE s.action = 'silence' AND s.outcome = 'done';

-- The latest acknowledgement of each alert.
CREATE VIEW kasho_ops.alert_acknowledgements AS
SELECT DISTINCT ON (alert_id) alert_id, at AS acknowledged_at, actor AS acknowledged_by,
       comment
FROM kasho_ops.alert_actions
WHERE action = 'acknowledge' AND outcome = 'done'
ORDER BY alert_id, at DESC;

-- Notifications: one row per alert episode, receiver, event and severity, so each is sent
-- once (the unique key is the deduplication). A row waits (pending) until delivered (sent),
-- given up after its attempts (failed), or dropped because the alert resolved before its
-- firing notice went out (cancelled); last_error says why, without the receiver's URL.
CREATE TABLE kasho_ops.notifications (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id        bigint      NOT NULL REFERENCES kasho_ops.alerts (id) ON DELETE CASCADE,
    receiver        text        NOT NULL,
    event           text        NOT NULL CHECK (event IN ('firing', 'resolved')),
    severity        text        NOT NULL CHECK (severity IN ('warning', 'critical')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    sent_at         timestamptz,
    last_error      text,
    UNIQUE (alert_id, receiver, event, severity)
);
CREATE INDEX notifications_due_idx ON kasho_ops.notifications (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX notifications_created_idx ON kasho_ops.notifications (created_at DESC);

-- The audit trail in one shape (0060) gains the alert actions.
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
