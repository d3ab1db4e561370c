-- connection_use (connection_limits): client connections as a percentage of those ordinary
-- roles may open (max_connections minus the slots reserved for superusers and, on 16+,
-- pg_use_reserved_connections), from the latest sample.
SELECT ''                                                            AS instance,
       100.0 * client_connections
           / greatest(max_connections - reserved_connections, 1)    AS value,
       client_connections || ' of ' || (max_connections - reserved_connections)
           || ' usable connections in use (max_connections ' || max_connections || ', '
           || reserved_connections || ' reserved)'                  AS detail
FROM kasho_ops.connection_limits
WHERE target = %(target)s AND collected_at > %(fresh_after)s
ORDER BY collected_at DESC
LIMIT 1
