-- The read model: what the sink writes from the events topic and the API reads.
-- The sink is its only writer; every row is derived from events, so the whole schema
-- can be dropped and rebuilt by replaying the events topic from the beginning.

-- Ticketed events (concerts, matches): one row per event, written when its first
-- zone is configured.
CREATE TABLE IF NOT EXISTS events (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Zones with their configuration and inventory as of the newest event applied.
-- as_of is the processor's clock at that event: how fresh the numbers are.
CREATE TABLE IF NOT EXISTS zones (
    id                 uuid PRIMARY KEY,
    event_id           uuid NOT NULL REFERENCES events (id),
    name               text NOT NULL,
    capacity           bigint NOT NULL CHECK (capacity >= 0),
    available          bigint NOT NULL CHECK (available >= 0),
    held               bigint NOT NULL CHECK (held >= 0),
    sold               bigint NOT NULL CHECK (sold >= 0),
    hold_ttl_seconds   bigint NOT NULL,
    hold_quantity_max  bigint NOT NULL,
    customer_limit     bigint NOT NULL,
    as_of              timestamptz NOT NULL,
    CONSTRAINT zones_inventory_adds_up CHECK (available + held + sold = capacity)
);
CREATE INDEX IF NOT EXISTS zones_event_id ON zones (event_id);

CREATE TABLE IF NOT EXISTS holds (
    id               uuid PRIMARY KEY,
    event_id         uuid NOT NULL,
    zone_id          uuid NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    customer_id      text,
    status           text NOT NULL CHECK (status IN ('active', 'confirmed', 'released', 'expired')),
    idempotency_key  text,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    resolved_at      timestamptz,
    order_id         uuid
);
CREATE INDEX IF NOT EXISTS holds_zone_id ON holds (zone_id);

CREATE TABLE IF NOT EXISTS orders (
    id           uuid PRIMARY KEY,
    hold_id      uuid NOT NULL UNIQUE,
    event_id     uuid NOT NULL,
    zone_id      uuid NOT NULL,
    quantity     bigint NOT NULL CHECK (quantity > 0),
    customer_id  text,
    created_at   timestamptz NOT NULL
);

-- One row per decided request. A request the API accepted but the sink has not yet
-- seen has no row: the API answers "pending" for it.
CREATE TABLE IF NOT EXISTS requests (
    id               uuid PRIMARY KEY,
    type             text NOT NULL,
    event_id         uuid NOT NULL,
    zone_id          uuid NOT NULL,
    status           text NOT NULL CHECK (status IN ('succeeded', 'rejected')),
    event_type       text NOT NULL,
    hold_id          uuid,
    order_id         uuid,
    reason           text,
    message          text,
    available        bigint,
    replayed         boolean NOT NULL DEFAULT false,
    decided_at       timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);

-- The sink's position in the events topic, written in the same transaction as the
-- rows it derived: exactly once into Postgres.
CREATE TABLE IF NOT EXISTS sink_offsets (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
