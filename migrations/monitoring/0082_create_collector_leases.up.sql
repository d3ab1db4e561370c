SET lock_timeout = '5s';

-- Several collector processes share the targets through the store: every collector keeps a
-- heartbeat row here, and a target is collected only by the collector holding its lease.
-- A collector that stops renewing (killed, hung, cut off) loses its leases when they
-- expire, and the live collectors take its targets over on their next renewal.
CREATE TABLE kasho_ops.collectors (
    collector_id text        PRIMARY KEY,
    hostname     text        NOT NULL,
    pid          integer     NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE TABLE kasho_ops.target_leases (
    target       text        PRIMARY KEY,
    collector_id text        NOT NULL,
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- Which collector ran each collection, and how late it started against its schedule.
ALTER TABLE kasho_ops.collector_runs
    ADD COLUMN collector_id text,
    ADD COLUMN lateness_ms  double precision;

-- True while `collector` holds an unexpired lease on `target`: a writer that must not act
-- on a target it lost (a counter baseline update, for one) checks it in its transaction.
CREATE FUNCTION kasho_ops.lease_held(lease_target text, collector text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM kasho_ops.target_leases
                   WHERE target = lease_target AND collector_id = collector
                     AND expires_at > clock_timestamp())
$$;

-- One renewal round of one collector, in one transaction: heartbeat, renew what it holds,
-- give back what is above its fair share, and claim unowned or expired targets up to that
-- share. The shares add up to the targets exactly: floor(targets / live collectors), plus
-- one for the first (targets mod live) collectors in id order. Returns the targets it now
-- holds.
CREATE FUNCTION kasho_ops.balance_leases(me text, host text, process integer,
                                         wanted text[], ttl interval) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    now_ts   timestamptz := clock_timestamp();
    live     integer;
    rank     integer;
    fair     integer;
    held     integer;
BEGIN
    INSERT INTO kasho_ops.collectors AS c (collector_id, hostname, pid, heartbeat_at, expires_at)
    VALUES (me, host, process, now_ts, now_ts + ttl)
    ON CONFLICT (collector_id) DO UPDATE
        SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at;
    DELETE FROM kasho_ops.collectors WHERE expires_at < now_ts - ttl * 100;
    -- Serialize rounds, so two collectors never both see a target as free or both shed.
    PERFORM pg_advisory_xact_lock(hashtext('kasho_ops.balance_leases'));
    now_ts := clock_timestamp();

    UPDATE kasho_ops.target_leases SET expires_at = now_ts + ttl
    WHERE collector_id = me AND expires_at > now_ts AND target = ANY (wanted);
    DELETE FROM kasho_ops.target_leases WHERE collector_id = me AND NOT (target = ANY (wanted));

    SELECT count(*), count(*) FILTER (WHERE collector_id < me) INTO live, rank
    FROM kasho_ops.collectors WHERE expires_at > now_ts;
    live := greatest(live, 1);
    fair := cardinality(wanted) / live
            + CASE WHEN rank < cardinality(wanted) % live THEN 1 ELSE 0 END;
    SELECT count(*) INTO held FROM kasho_ops.target_leases
    WHERE collector_id = me AND expires_at > now_ts;

    IF held > fair THEN
        DELETE FROM kasho_ops.target_leases WHERE target IN (
            SELECT target FROM kasho_ops.target_leases
            WHERE collector_id = me AND expires_at > now_ts
            ORDER BY target DESC LIMIT held - fair);
    ELSIF held < fair THEN
        INSERT INTO kasho_ops.target_leases AS l (target, collector_id, acquired_at, expires_at)
        SELECT t, me, now_ts, now_ts + ttl
        FROM unnest(wanted) AS t
        WHERE NOT EXISTS (SELECT 1 FROM kasho_ops.target_leases x
                          WHERE x.target = t AND x.expires_at > now_ts)
        ORDER BY t
        LIMIT fair - held
        ON CONFLICT (target) DO UPDATE
            SET collector_id = excluded.collector_id, acquired_at = excluded.acquired_at,
                expires_at = excluded.expires_at
            WHERE l.expires_at <= now_ts;
    END IF;

    RETURN QUERY SELECT target FROM kasho_ops.target_leases
                 WHERE collector_id = me AND expires_at > now_ts ORDER BY target;
END;
$$;

-- A collector that stops cleanly hands its targets over at once.
CREATE FUNCTION kasho_ops.release_leases(me text) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM kasho_ops.target_leases WHERE collector_id = me;
    DELETE FROM kasho_ops.collectors WHERE collector_id = me;
$$;
