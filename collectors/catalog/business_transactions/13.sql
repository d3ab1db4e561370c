-- business_transactions (PostgreSQL 13+): Kasho's transactions created or changed in the run's
-- window (since, until], per minute, type, status and account currency: counts and exact
-- amounts. Incremental: the engine binds the window from the watermark it keeps in the store.
-- A row created in the window is a 'created' event with its status as read, or
-- 'created_changed' when it was already updated by then (its status as read is then not the
-- one it was created with); a row updated in the window after its creation (pending ->
-- completed/failed, completed -> reversed) is a 'changed' event with its new status and how
-- long after its creation. So a row's outcome is counted once: from 'created' if it never
-- changed, else from 'changed'. Needs SELECT on transactions and accounts (business_dsn);
-- strings compare as text, so VARCHAR and enum columns both work. Each half reads its own
-- index (created_at, updated_at), whose order follows the table's, so a wide catch-up window
-- still costs a fraction of reading the table.
WITH events AS (
    SELECT t.created_at AS happened_at,
           CASE WHEN t.updated_at > t.created_at THEN 'created_changed' ELSE 'created' END
               AS event,
           t.transaction_type, t.status, t.amount, t.account_id, NULL::float8 AS age_seconds
    FROM transactions t
    WHERE t.created_at > %(since)s AND t.created_at <= %(until)s
    UNION ALL
    SELECT t.updated_at, 'changed', t.transaction_type, t.status,
           t.amount, t.account_id, extract(epoch FROM t.updated_at - t.created_at)::float8
    FROM transactions t
    WHERE t.updated_at > %(since)s AND t.updated_at <= %(until)s AND t.updated_at > t.created_at
)
SELECT to_timestamp(floor(extract(epoch FROM e.happened_at) / 60) * 60) AS minute,
       e.event,
       e.transaction_type::text AS transaction_type,
       e.status::text AS status,
       coalesce(a.currency::text, '') AS currency,
       count(*) AS transactions,
       sum(e.amount) AS amount,
       sum(e.age_seconds) AS age_seconds_sum,
       max(e.age_seconds) AS age_seconds_max
FROM events e
LEFT JOIN accounts a ON a.id = e.account_id
GROUP BY 1, 2, 3, 4, 5
