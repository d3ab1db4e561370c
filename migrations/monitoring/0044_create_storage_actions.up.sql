SET lock_timeout = '5s';

-- Audit trails of the Storage, Maintenance and Indexes pages' DBA actions: one row per
-- attempt, denials, refusals and failures included, with who acted and the role they held.
-- Append-only (kasho_ops.reject_audit_change() from 0005) and not partitioned, so metric
-- retention never drops them.

-- Exact bloat of one relation with pgstattuple: it reads the whole relation. The measured
-- figures are kept with the attempt, so the Maintenance page shows the latest measurement.
CREATE TABLE kasho_ops.bloat_measurements (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    measured_at        timestamptz NOT NULL DEFAULT now(),
    actor              text        NOT NULL,
    actor_role         text        CHECK (actor_role IN ('viewer', 'operator', 'admin')),
    target             text        NOT NULL,
    datname            text        NOT NULL,
    schemaname         text        NOT NULL,
    relname            text        NOT NULL,
    kind               text        CHECK (kind IN ('table', 'index')),
    method             text        CHECK (method IN ('pgstattuple', 'pgstattuple_approx',
                                                     'pgstatindex')),
    outcome            text        NOT NULL CHECK (outcome IN ('measured', 'denied', 'refused',
                                                                'failed')),
    error              text,
    duration_ms        double precision,
    relation_bytes     bigint,
    live_bytes         bigint,
    dead_bytes         bigint,
    free_bytes         bigint,
    live_percent       double precision,
    dead_percent       double precision,
    free_percent       double precision,
    leaf_density       double precision,
    leaf_fragmentation double precision
);
CREATE INDEX bloat_measurements_target_time_idx
    ON kasho_ops.bloat_measurements (target, measured_at DESC);
CREATE TRIGGER bloat_measurements_append_only BEFORE UPDATE OR DELETE
    ON kasho_ops.bloat_measurements
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER bloat_measurements_no_truncate BEFORE TRUNCATE ON kasho_ops.bloat_measurements
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();

-- Index advice with hypopg: a statement planned before and after a hypothetical index.
-- Never the sample values; the suggested index's definition and both plan costs.
CREATE TABLE kasho_ops.index_advice_runs (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    advised_at       timestamptz NOT NULL DEFAULT now(),
    actor            text        NOT NULL,
    actor_role       text        CHECK (actor_role IN ('viewer', 'operator', 'admin')),
    target           text        NOT NULL,
    datname          text        NOT NULL,
    queryid          bigint,
    outcome          text        NOT NULL CHECK (outcome IN ('advised', 'no_advice', 'denied',
                                                             'refused', 'failed')),
    error            text,
    suggested_index  text,
    cost_before      double precision,
    cost_after       double precision
);
CREATE INDEX index_advice_runs_target_time_idx
    ON kasho_ops.index_advice_runs (target, advised_at DESC);
CREATE TRIGGER index_advice_runs_append_only BEFORE UPDATE OR DELETE
    ON kasho_ops.index_advice_runs
    FOR EACH ROW EXECUTE FUNCTION kasho_ops.reject_audit_change();
CREATE TRIGGER index_advice_runs_no_truncate BEFORE TRUNCATE ON kasho_ops.index_advice_runs
    FOR EACH STATEMENT EXECUTE FUNCTION kasho_ops.reject_audit_change();
