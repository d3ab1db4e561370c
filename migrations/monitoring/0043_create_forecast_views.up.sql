SET lock_timeout = '5s';

-- Forecasts as views, so the dashboard and alert rules read the same numbers. Each fits a
-- least-squares line to recent history (regr_slope) and says how sure it is:
--   status      'forecast' only with enough history (otherwise 'insufficient history',
--               or 'not growing' / 'no consumption' when the fitted rate is not positive;
--               disk: 'no capacity configured' / 'not measured')
--   r2          how well a straight line fits (1 = perfectly steady growth)
--   *_low/high  the rate +/- two standard errors of the slope, and the dates they give:
--               the forecast's range, NULL on the slow side when it may never be reached
-- Nothing is extrapolated from less than the minimum history each view names.

-- Disk: what the cluster occupies (tablespaces + WAL, from disk_usage) against the
-- configured disk_capacity_bytes, and the data directory filesystem's free space
-- (disk_capacity, when the collector runs on the database host). Last 7 days; at least
-- 24 hours and 12 samples.
CREATE VIEW kasho_ops.disk_forecast AS
WITH used AS (
    SELECT target, collected_at, sum(size_bytes)::float8 AS bytes
    FROM kasho_ops.disk_usage
    WHERE collected_at > now() - interval '7 days'
    GROUP BY target, collected_at
),
free AS (
    SELECT target, collected_at, filesystem_free_bytes::float8 AS bytes,
           filesystem_total_bytes::float8 AS total
    FROM kasho_ops.disk_capacity
    WHERE collected_at > now() - interval '7 days' AND filesystem_free_bytes IS NOT NULL
),
capacity AS (
    SELECT DISTINCT ON (target) target, configured_capacity_bytes, filesystem_total_bytes,
           filesystem_free_bytes, filesystem_note, collected_at
    FROM kasho_ops.disk_capacity
    WHERE collected_at > now() - interval '7 days'
    ORDER BY target, collected_at DESC
),
series AS (
    SELECT 'configured capacity'::text AS basis, target, collected_at, bytes AS used_bytes
    FROM used
    UNION ALL
    -- the filesystem's own used bytes (other files on it count too)
    SELECT 'host filesystem', target, collected_at, total - bytes
    FROM free
),
fit AS (
    SELECT basis, target, count(*) AS samples,
           min(collected_at) AS first_at, max(collected_at) AS last_at,
           regr_slope(used_bytes, extract(epoch FROM collected_at)) AS slope,
           regr_r2(used_bytes, extract(epoch FROM collected_at)) AS r2,
           regr_sxx(used_bytes, extract(epoch FROM collected_at)) AS sxx,
           regr_syy(used_bytes, extract(epoch FROM collected_at)) AS syy,
           regr_sxy(used_bytes, extract(epoch FROM collected_at)) AS sxy,
           (array_agg(used_bytes ORDER BY collected_at DESC))[1] AS used_bytes
    FROM series
    GROUP BY basis, target
),
assessed AS (
    SELECT f.*,
           CASE f.basis WHEN 'configured capacity' THEN c.configured_capacity_bytes::float8
                        ELSE c.filesystem_total_bytes::float8 END AS capacity_bytes,
           extract(epoch FROM f.last_at - f.first_at) / 3600 AS history_hours,
           CASE WHEN f.samples > 2 AND f.sxx > 0
                THEN sqrt(greatest(f.syy - f.slope * f.sxy, 0) / (f.samples - 2) / f.sxx)
           END AS slope_error
    FROM fit f
    LEFT JOIN capacity c USING (target)
)
SELECT basis, target, capacity_bytes, used_bytes,
       capacity_bytes - used_bytes                               AS free_bytes,
       samples, history_hours, r2,
       slope * 86400                                             AS growth_bytes_per_day,
       (slope - 2 * slope_error) * 86400                         AS growth_low_bytes_per_day,
       (slope + 2 * slope_error) * 86400                         AS growth_high_bytes_per_day,
       status,
       CASE WHEN status = 'forecast'
            THEN (capacity_bytes - used_bytes) / (slope * 86400) END AS days_to_full,
       CASE WHEN status = 'forecast'
            THEN last_at + make_interval(secs => (capacity_bytes - used_bytes) / slope) END
                                                                 AS full_at,
       CASE WHEN status = 'forecast'
            THEN last_at + make_interval(secs => (capacity_bytes - used_bytes)
                                                 / (slope + 2 * slope_error)) END
                                                                 AS full_at_earliest,
       CASE WHEN status = 'forecast' AND slope - 2 * slope_error > 0
            THEN last_at + make_interval(secs => (capacity_bytes - used_bytes)
                                                 / (slope - 2 * slope_error)) END
                                                                 AS full_at_latest,
       CASE WHEN status <> 'forecast' THEN NULL
            WHEN r2 >= 0.9 AND history_hours >= 72 THEN 'high'
            WHEN r2 >= 0.6 THEN 'medium'
            ELSE 'low' END                                       AS confidence,
       last_at                                                   AS as_of
FROM (SELECT a.*,
             CASE WHEN a.capacity_bytes IS NULL AND a.basis = 'configured capacity'
                  THEN 'no capacity configured'
                  WHEN a.capacity_bytes IS NULL THEN 'not measured'
                  WHEN a.history_hours < 24 OR a.samples < 12 THEN 'insufficient history'
                  WHEN a.slope IS NULL OR a.slope <= 0 THEN 'not growing'
                  WHEN a.used_bytes >= a.capacity_bytes THEN 'full'
                  ELSE 'forecast' END AS status
      FROM assessed a) s;

-- Wraparound: the server's XID and multixact consumption rates (next_xid, next_mxid of
-- database_wraparound over the last 24 hours; at least 1 hour and 10 samples) and, per
-- database at its latest sample, the time until its age reaches autovacuum_freeze_max_age
-- (forced anti-wraparound autovacuum), vacuum_failsafe_age, and the stop limit: about
-- 3 million short of 2^31, where the server refuses to assign XIDs ("emergency"). The time
-- assumes nothing freezes meanwhile: a freezing vacuum resets the age.
CREATE VIEW kasho_ops.wraparound_forecast AS
WITH recent AS (
    SELECT DISTINCT ON (target, collected_at) target, collected_at, next_xid,
           next_mxid::float8 AS next_mxid
    FROM kasho_ops.database_wraparound
    WHERE collected_at > now() - interval '24 hours'
    ORDER BY target, collected_at
),
unwrapped AS (
    -- next_mxid is 32-bit: count a step backwards as a wrap past 2^32
    SELECT target, collected_at, next_xid::float8 AS next_xid,
           next_mxid + 4294967296 * sum(CASE WHEN next_mxid < previous THEN 1 ELSE 0 END)
               OVER (PARTITION BY target ORDER BY collected_at) AS next_mxid
    FROM (SELECT r.*, lag(next_mxid) OVER (PARTITION BY target ORDER BY collected_at) AS previous
          FROM recent r) r
),
rates AS (
    SELECT target, count(*) AS samples,
           extract(epoch FROM max(collected_at) - min(collected_at)) / 3600 AS history_hours,
           regr_slope(next_xid, extract(epoch FROM collected_at)) AS xids_per_second,
           regr_r2(next_xid, extract(epoch FROM collected_at)) AS xid_r2,
           regr_slope(next_mxid, extract(epoch FROM collected_at)) AS mxids_per_second
    FROM unwrapped
    GROUP BY target
),
latest AS (
    SELECT DISTINCT ON (target, datname) *
    FROM kasho_ops.database_wraparound
    WHERE collected_at > now() - interval '24 hours'
    ORDER BY target, datname, collected_at DESC
),
limits AS (
    SELECT 2147483647 - 3000000 AS stop_age
)
SELECT l.target, l.datname, l.collected_at AS as_of, l.allows_connections,
       l.xid_age, l.mxid_age, l.freeze_max_age, l.multixact_freeze_max_age, l.failsafe_age,
       lim.stop_age,
       l.xid_age::float8 / lim.stop_age                          AS xid_fraction_of_stop,
       l.mxid_age::float8 / lim.stop_age                         AS mxid_fraction_of_stop,
       r.samples, r.history_hours, r.xids_per_second * 86400     AS xids_per_day,
       r.mxids_per_second * 86400                                AS mxids_per_day,
       r.xid_r2,
       status,
       CASE WHEN status = 'forecast' AND l.xid_age < l.freeze_max_age
            THEN (l.freeze_max_age - l.xid_age) / r.xids_per_second / 86400 END
                                                                 AS days_to_freeze_max_age,
       CASE WHEN status = 'forecast' AND l.xid_age < l.failsafe_age
            THEN (l.failsafe_age - l.xid_age) / r.xids_per_second / 86400 END
                                                                 AS days_to_failsafe,
       CASE WHEN status = 'forecast'
            THEN greatest(lim.stop_age - l.xid_age, 0) / r.xids_per_second / 86400 END
                                                                 AS days_to_emergency,
       CASE WHEN status = 'forecast' AND r.mxids_per_second > 0
            THEN greatest(lim.stop_age - l.mxid_age, 0) / r.mxids_per_second / 86400 END
                                                                 AS mxid_days_to_emergency
FROM latest l
CROSS JOIN limits lim
LEFT JOIN rates r USING (target)
CROSS JOIN LATERAL (
    SELECT CASE WHEN r.samples IS NULL OR r.samples < 10 OR r.history_hours < 1
                THEN 'insufficient history'
                WHEN r.xids_per_second IS NULL OR r.xids_per_second <= 0
                THEN 'no consumption'
                ELSE 'forecast' END AS status
) s;
