-- recovery_state (recovery_states): the newest fresh judgement of each of the rule's states
-- (params: states), as collectors/backups/states.py stored it with the [backups]
-- thresholds: severity and threshold come with the row (the rule is judged_by
-- recovery_states), so the number and its limit have one definition. 'ok' and 'unknown'
-- rows do not alert; a critical state without a value (no good backup at all) reports its
-- threshold. Read from the table with the freshness bound rather than
-- recovery_states_latest, whose DISTINCT ON would read the target's whole history.
SELECT DISTINCT ON (state)
       state                           AS instance,
       coalesce(value, threshold, 0)   AS value,
       severity,
       threshold,
       message                         AS detail
FROM kasho_ops.recovery_states
WHERE target = %(target)s AND state = ANY(%(states)s::text[])
  AND collected_at > %(fresh_after)s
ORDER BY state, collected_at DESC
