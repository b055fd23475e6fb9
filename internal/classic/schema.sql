-- The classic baseline's tables, in their own schema so that they can share the
-- pipeline's database. Every statement is idempotent: the schema is ensured at each
-- start-up.
CREATE SCHEMA IF NOT EXISTS classic;

CREATE TABLE IF NOT EXISTS classic.events (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

-- One row per zone: its inventory is the row every hold of the zone locks.
CREATE TABLE IF NOT EXISTS classic.zones (
    id                 uuid PRIMARY KEY,
    event_id           uuid NOT NULL REFERENCES classic.events (id),
    name               text NOT NULL,
    capacity           bigint NOT NULL CHECK (capacity >= 0),
    available          bigint NOT NULL CHECK (available >= 0),
    held               bigint NOT NULL CHECK (held >= 0),
    sold               bigint NOT NULL CHECK (sold >= 0),
    hold_ttl_seconds   bigint NOT NULL CHECK (hold_ttl_seconds > 0),
    -- 0: no limit per hold beyond the capacity.
    hold_quantity_max  bigint NOT NULL CHECK (hold_quantity_max >= 0),
    CONSTRAINT classic_zones_inventory_adds_up CHECK (available + held + sold = capacity),
    CONSTRAINT classic_zones_name_unique UNIQUE (event_id, name)
);

-- A hold's idempotency key is unique in its zone, as in the pipeline: the unique
-- index is what makes a retry find the first hold instead of taking tickets twice.
CREATE TABLE IF NOT EXISTS classic.holds (
    id               uuid PRIMARY KEY,
    request_id       uuid NOT NULL,
    event_id         uuid NOT NULL,
    zone_id          uuid NOT NULL REFERENCES classic.zones (id),
    idempotency_key  text NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    -- '' when the request named no customer.
    customer_id      text NOT NULL,
    status           text NOT NULL CHECK (status = 'active'),
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    CONSTRAINT classic_holds_key_unique UNIQUE (zone_id, idempotency_key)
);
