SET lock_timeout = '5s';

-- Back to 0043's disk_forecast, without enough_history (a view cannot lose a column in place).
DROP VIEW kasho_ops.disk_forecast;
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
