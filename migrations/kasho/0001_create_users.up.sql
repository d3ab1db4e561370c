SET lock_timeout = '5s';

-- Shared by every Kasho table: stamps updated_at on UPDATE. A statement that sets
-- updated_at itself (a backfill, the demo seed) keeps its value.
CREATE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TABLE users (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    email      text        NOT NULL,
    full_name  text        NOT NULL,
    status     text        NOT NULL DEFAULT 'active',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_email_check CHECK (position('@' IN email) > 1),
    CONSTRAINT users_status_check CHECK (status IN ('active', 'suspended', 'closed'))
);

-- One account per address whatever its case: Ann@x.io and ann@x.io are the same person.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
