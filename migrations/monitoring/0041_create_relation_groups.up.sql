SET lock_timeout = '5s';

-- Store tables of the table_stats, index_stats, relation_summary and bloat_estimate groups
-- (gauges). Per-table and per-index rows exist only for the relations the collector kept
-- that interval ([collector] top_tables per ranking, plus those needing care):
-- tracked_because says why. Counters (scans, tuples, blocks) are cumulative since the
-- server's statistics were reset, stored as read; readers difference consecutive samples.
CREATE TABLE kasho_ops.table_stats (
    collected_at         timestamptz      NOT NULL,
    target               text             NOT NULL,
    relid                bigint           NOT NULL,
    schemaname           text             NOT NULL,
    relname              text             NOT NULL,
    relkind              text             NOT NULL,
    tracked_because      text[]           NOT NULL,
    size_skipped_locked  boolean          NOT NULL,
    heap_bytes           bigint,
    toast_bytes          bigint,
    indexes_bytes        bigint,
    total_bytes          bigint,
    reltuples            double precision NOT NULL,
    n_live_tup           bigint           NOT NULL,
    n_dead_tup           bigint           NOT NULL,
    dead_tuple_ratio     double precision,
    n_mod_since_analyze  bigint           NOT NULL,
    n_ins_since_vacuum   bigint           NOT NULL,
    vacuum_threshold     double precision NOT NULL,
    insert_threshold     double precision,
    analyze_threshold    double precision NOT NULL,
    autovacuum_enabled   boolean          NOT NULL,
    needs_vacuum         boolean          NOT NULL,
    needs_analyze        boolean          NOT NULL,
    needs_freeze         boolean          NOT NULL,
    never_analyzed       boolean          NOT NULL,
    last_vacuum          timestamptz,
    last_autovacuum      timestamptz,
    last_analyze         timestamptz,
    last_autoanalyze     timestamptz,
    vacuum_count         bigint           NOT NULL,
    autovacuum_count     bigint           NOT NULL,
    analyze_count        bigint           NOT NULL,
    autoanalyze_count    bigint           NOT NULL,
    xid_age              bigint,
    mxid_age             bigint,
    freeze_max_age       bigint           NOT NULL,
    mxid_freeze_max_age  bigint           NOT NULL,
    seq_scan             bigint           NOT NULL,
    seq_tup_read         bigint           NOT NULL,
    idx_scan             bigint           NOT NULL,
    idx_tup_fetch        bigint           NOT NULL,
    n_tup_ins            bigint           NOT NULL,
    n_tup_upd            bigint           NOT NULL,
    n_tup_del            bigint           NOT NULL,
    n_tup_hot_upd        bigint           NOT NULL,
    heap_blks_read       bigint           NOT NULL,
    heap_blks_hit        bigint           NOT NULL,
    idx_blks_read        bigint           NOT NULL,
    idx_blks_hit         bigint           NOT NULL,
    toast_blks_read      bigint           NOT NULL,
    toast_blks_hit       bigint           NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX table_stats_target_time_idx ON kasho_ops.table_stats (target, collected_at);
-- One table's history (the growth and vacuum charts of one table).
CREATE INDEX table_stats_table_idx
    ON kasho_ops.table_stats (target, schemaname, relname, collected_at);

CREATE TABLE kasho_ops.index_stats (
    collected_at        timestamptz NOT NULL,
    target              text        NOT NULL,
    indexrelid          bigint      NOT NULL,
    relid               bigint      NOT NULL,
    schemaname          text        NOT NULL,
    relname             text        NOT NULL,
    indexrelname        text        NOT NULL,
    amname              text        NOT NULL,
    definition          text,
    constraint_name     text,
    tracked_because     text[]      NOT NULL,
    findings            text[]      NOT NULL,
    size_skipped_locked boolean     NOT NULL,
    index_bytes         bigint,
    idx_scan            bigint      NOT NULL,
    idx_tup_read        bigint      NOT NULL,
    idx_tup_fetch       bigint      NOT NULL,
    idx_blks_read       bigint      NOT NULL,
    idx_blks_hit        bigint      NOT NULL,
    last_idx_scan       timestamptz,
    is_unique           boolean     NOT NULL,
    is_primary          boolean     NOT NULL,
    is_valid            boolean     NOT NULL,
    build_in_progress   boolean     NOT NULL,
    duplicate_of        text,
    redundant_with      text,
    table_index_writes  bigint      NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX index_stats_target_time_idx ON kasho_ops.index_stats (target, collected_at);

CREATE TABLE kasho_ops.relation_summary (
    collected_at                 timestamptz NOT NULL,
    target                       text        NOT NULL,
    datname                      text        NOT NULL,
    stats_reset                  timestamptz,
    tables                       integer     NOT NULL,
    tables_needing_vacuum        integer     NOT NULL,
    tables_needing_analyze       integer     NOT NULL,
    tables_never_analyzed        integer     NOT NULL,
    tables_needing_freeze        integer     NOT NULL,
    tables_autovacuum_disabled   integer     NOT NULL,
    live_tuples                  bigint      NOT NULL,
    dead_tuples                  bigint      NOT NULL,
    oldest_xid_age               bigint,
    indexes                      integer     NOT NULL,
    invalid_indexes              integer     NOT NULL,
    unused_indexes               integer     NOT NULL,
    unused_index_estimated_bytes bigint      NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX relation_summary_target_time_idx
    ON kasho_ops.relation_summary (target, collected_at);

-- Estimated bloat; bloat_bytes and bloat_ratio are NULL where suppressed_reason says why.
CREATE TABLE kasho_ops.bloat_estimate (
    collected_at           timestamptz      NOT NULL,
    target                 text             NOT NULL,
    schemaname             text             NOT NULL,
    relname                text             NOT NULL,
    kind                   text             NOT NULL CHECK (kind IN ('table', 'index')),
    table_name             text             NOT NULL,
    relation_bytes         bigint           NOT NULL,
    expected_bytes         bigint,
    bloat_bytes            bigint,
    bloat_ratio            double precision,
    reltuples              double precision NOT NULL,
    fillfactor             integer          NOT NULL,
    width_source           text,
    suppressed_reason      text,
    last_analyze           timestamptz,
    modified_since_analyze bigint           NOT NULL
) PARTITION BY RANGE (collected_at);
CREATE INDEX bloat_estimate_target_time_idx ON kasho_ops.bloat_estimate (target, collected_at);
