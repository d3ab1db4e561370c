-- wraparound_age (database_wraparound, through the kasho_ops.wraparound_forecast view the
-- Maintenance page reads): per database at its latest sample, how far its XID or multixact
-- age (the larger) has gone towards the stop limit, where the server refuses to assign XIDs,
-- in percent.
SELECT datname                                                     AS instance,
       100 * greatest(xid_fraction_of_stop, mxid_fraction_of_stop) AS value,
       'XID age ' || to_char(xid_age, 'FM999,999,999,999') || ', multixact age '
           || to_char(mxid_age, 'FM999,999,999,999') || ' (autovacuum_freeze_max_age '
           || to_char(freeze_max_age, 'FM999,999,999,999') || ')'
           || CASE WHEN status = 'forecast' AND days_to_emergency IS NOT NULL
                   THEN '; at ' || to_char(xids_per_day, 'FM999,999,999,999')
                        || ' XIDs/day the stop limit is ' || round(days_to_emergency::numeric, 1)
                        || ' days away'
                   ELSE '' END                                     AS detail
FROM kasho_ops.wraparound_forecast
WHERE target = %(target)s AND as_of > %(fresh_after)s
