-- disk_full_forecast (disk_usage, disk_capacity, through the kasho_ops.disk_forecast view
-- the Storage page reads): per basis (configured capacity, host filesystem), the hours until
-- the disk is full at the fitted growth rate; 0 when it is full. Only a forecast the page
-- would show: the view's 'forecast' status (enough history, growing) and no further ahead
-- than horizon_factor times the history behind the rate.
SELECT basis                                                        AS instance,
       CASE WHEN status = 'full' THEN 0 ELSE days_to_full * 24 END  AS value,
       CASE WHEN status = 'full'
            THEN 'full: ' || pg_size_pretty(used_bytes::bigint) || ' used of '
                 || pg_size_pretty(capacity_bytes::bigint)
            ELSE pg_size_pretty(free_bytes::bigint) || ' free of '
                 || pg_size_pretty(capacity_bytes::bigint) || ', growing '
                 || pg_size_pretty(growth_bytes_per_day::bigint) || '/day (r² '
                 || round(r2::numeric, 2) || ' over ' || round(history_hours::numeric, 1)
                 || ' h): full around ' || to_char(full_at AT TIME ZONE 'UTC',
                                                   'YYYY-MM-DD HH24:MI') || ' UTC'
       END                                                          AS detail
FROM kasho_ops.disk_forecast
WHERE target = %(target)s AND as_of > %(fresh_after)s
  AND (status = 'full'
       OR (status = 'forecast' AND days_to_full <= %(horizon_factor)s * history_hours / 24))
