-- recovery_check (recovery_states): each backup, archiving, replication and drill check as
-- the collector last evaluated it for the target (kasho_ops.recovery_states_latest), one row
-- per check: value 2 when critical, 1 when warning, 0 otherwise; detail is the check's
-- message (it names slots and WAL files: plain text). Checks last evaluated before
-- fresh_after do not count.
SELECT state                                                       AS instance,
       CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END::float8
                                                                   AS value,
       message                                                     AS detail
FROM kasho_ops.recovery_states_latest
WHERE target = %(target)s AND collected_at > %(fresh_after)s
