-- session_ages, PostgreSQL 13+: pg_stat_activity, client backends, one pass, per database.
-- How many sessions run a query, sit idle inside a transaction or wait for a lock, and the
-- oldest query, transaction and idle-in-transaction ages. Our own session is left out.
-- Ages are clamped at 0: a query may start between our statement start and the snapshot.
SELECT coalesce(datname, '')                                        AS datname,
       count(*) FILTER (WHERE state = 'active')::integer            AS active,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%')::integer
                                                                    AS idle_in_transaction,
       count(*) FILTER (WHERE wait_event_type = 'Lock')::integer    AS waiting_on_lock,
       greatest(coalesce(max(extract(epoch FROM now() - state_change))
                FILTER (WHERE state LIKE 'idle in transaction%'), 0), 0)::float8
                                                        AS longest_idle_in_transaction_seconds,
       greatest(coalesce(max(extract(epoch FROM now() - query_start))
                FILTER (WHERE state = 'active'), 0), 0)::float8    AS longest_query_seconds,
       greatest(coalesce(max(extract(epoch FROM now() - xact_start)), 0), 0)::float8
                                                                    AS longest_transaction_seconds
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND pid <> pg_backend_pid()
GROUP BY 1
