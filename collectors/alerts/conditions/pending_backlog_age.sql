-- pending_backlog_age (business_pending): the age of the oldest pending Kasho transaction at
-- the group's latest sample (its '*' row, all currencies and types), as the Business page
-- shows it. No pending transaction: age 0.
SELECT ''                                                          AS instance,
       p.oldest_age_seconds                                        AS value,
       p.transactions || ' pending transaction(s), the oldest created '
           || coalesce(to_char(p.oldest_created_at AT TIME ZONE 'UTC',
                               'YYYY-MM-DD HH24:MI:SS') || ' UTC', '—')
                                                                   AS detail
FROM kasho_ops.business_pending p
WHERE p.target = %(target)s AND p.currency = '*' AND p.transaction_type = '*'
  AND p.collected_at = (SELECT max(collected_at) FROM kasho_ops.business_pending
                        WHERE target = %(target)s AND collected_at > %(fresh_after)s)
