-- Payments (docs/adr/0008-payments.md): zone prices, the payment of each hold and
-- order, and refunds. Every row is derived from events, like the rest of the read
-- model, except payment_actions, which the payments worker writes.

-- A zone's ticket price in minor units of currency; 0 and NULL currency for a free zone.
ALTER TABLE zones ADD COLUMN IF NOT EXISTS price_minor bigint NOT NULL DEFAULT 0 CHECK (price_minor >= 0);
ALTER TABLE zones ADD COLUMN IF NOT EXISTS currency text;

-- The payment intent under way for a hold (hold.payment_started extends expires_at).
ALTER TABLE holds ADD COLUMN IF NOT EXISTS payment_intent_id text;

-- What an order was paid: NULL for an order of a free zone.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS payment_intent_id text;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS amount bigint;
ALTER TABLE orders ADD COLUMN IF NOT EXISTS currency text;
CREATE INDEX IF NOT EXISTS orders_payment_intent_id ON orders (payment_intent_id)
    WHERE payment_intent_id IS NOT NULL;

-- One row per payment intent the processor heard of, with where it stands:
-- started (hold.payment_started), succeeded (the hold became order_id),
-- refund_required (paid for a hold that could not become an order: reason says why),
-- expired (the hold expired with the payment under way; the worker cancels it).
CREATE TABLE IF NOT EXISTS payments (
    intent_id   text PRIMARY KEY,
    hold_id     uuid NOT NULL,
    event_id    uuid NOT NULL,
    zone_id     uuid NOT NULL,
    amount      bigint NOT NULL CHECK (amount >= 0),
    currency    text NOT NULL,
    status      text NOT NULL CHECK (status IN ('started', 'succeeded', 'refund_required', 'expired')),
    reason      text,
    order_id    uuid,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_hold_id ON payments (hold_id);

-- Tickets of orders refunded and back on sale (order.refunded), one row per refund.
CREATE TABLE IF NOT EXISTS order_refunds (
    refund_id   text PRIMARY KEY,
    order_id    uuid NOT NULL,
    event_id    uuid NOT NULL,
    zone_id     uuid NOT NULL,
    quantity    bigint NOT NULL CHECK (quantity > 0),
    amount      bigint NOT NULL CHECK (amount >= 0),
    created_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS order_refunds_order_id ON order_refunds (order_id);

-- What the payments worker did at the provider (refund of a late payment, cancel of
-- an expired hold's intent), once per intent and action.
CREATE TABLE IF NOT EXISTS payment_actions (
    intent_id     text NOT NULL,
    action        text NOT NULL,
    provider_ref  text,
    done_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (intent_id, action)
);
