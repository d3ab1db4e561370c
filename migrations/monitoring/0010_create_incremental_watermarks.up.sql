SET lock_timeout = '5s';

-- Where each incremental group's reads stand (collectors/core/incremental.py): one row per
-- run that read a window, written in the same transaction as the window's rows, so the
-- latest watermark of a (target, group) is exactly where its stored data ends. The next run,
-- in whichever process, reads from there. Partitioned like the metrics: after an outage
-- longer than the retention, the first run reads back its group's backfill_seconds.
CREATE TABLE kasho_ops.incremental_watermarks (
    collected_at timestamptz NOT NULL,
    target       text        NOT NULL,
    metric_group text        NOT NULL,
    window_start timestamptz NOT NULL,
    watermark    timestamptz NOT NULL,
    CHECK (watermark > window_start)
) PARTITION BY RANGE (collected_at);
CREATE INDEX incremental_watermarks_group_idx
    ON kasho_ops.incremental_watermarks (target, metric_group, watermark DESC);
