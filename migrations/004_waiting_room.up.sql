-- The waiting room's read model: each event's room (its configuration and how far
-- admission has gone) and each buyer's place in it. The sink writes both from the
-- queue outcomes, which the queue writer emits on the event's partition.

-- A zone sold behind its event's waiting room: holds in it need an admission.
ALTER TABLE zones ADD COLUMN IF NOT EXISTS waiting_room boolean NOT NULL DEFAULT false;

-- One row per event with a waiting room. Config columns are the effective
-- configuration (queue.configured); the others follow admission (queue.opened,
-- queue.admitted, queue.sold_out, queue.resumed, and the progress every queue
-- outcome carries). updated_at is the processor's clock at the newest outcome
-- applied: older outcomes never overwrite newer ones.
CREATE TABLE IF NOT EXISTS waiting_rooms (
    event_id          uuid PRIMARY KEY,
    enabled           boolean NOT NULL,
    opens_at          timestamptz NOT NULL,
    starts_at         timestamptz NOT NULL,
    rate_per_second   double precision NOT NULL, -- configured; 0 = automatic
    rate_max          double precision NOT NULL,
    shop_seconds      bigint NOT NULL,
    allowance         bigint NOT NULL,
    customer_limit    bigint NOT NULL,
    zone_ids          uuid[] NOT NULL,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'sold_out')),
    admitted_through  bigint NOT NULL DEFAULT 0,
    waiting           bigint NOT NULL DEFAULT 0,
    current_rate      double precision NOT NULL DEFAULT 0, -- the rate admission runs at
    seed              text,
    pre_queue_size    bigint,
    started_at        timestamptz,
    sold_out_at       timestamptz,
    updated_at        timestamptz NOT NULL
);

-- One row per buyer in a room. position is NULL while the buyer is in the
-- pre-queue (before the start shuffles it). A row only moves forward:
-- waiting -> admitted -> admission_expired.
CREATE TABLE IF NOT EXISTS queue_entries (
    queue_id     uuid PRIMARY KEY,
    event_id     uuid NOT NULL,
    customer_id  text NOT NULL,
    position     bigint,
    pre_queue    boolean NOT NULL,
    status       text NOT NULL CHECK (status IN ('waiting', 'admitted', 'admission_expired')),
    joined_at    timestamptz NOT NULL,
    admitted_at  timestamptz,
    expires_at   timestamptz,
    allowance    bigint
);
CREATE INDEX IF NOT EXISTS queue_entries_event_id ON queue_entries (event_id, position);
-- A join answers with the customer's entry when the queue writer replayed it.
CREATE INDEX IF NOT EXISTS queue_entries_customer ON queue_entries (event_id, customer_id, joined_at);
