-- The refund outbox (docs/adr/0008-payments.md, "Refunds restock through the writer"):
-- an admin's refund of an order is recorded here before the provider is asked, so
-- that money returned without its tickets back on sale is never forgotten. The API
-- writes a row and records the provider's refund id; the payments worker finishes a
-- refund a crash or an outage left half-done (it retries the provider with the same
-- idempotency key, then publishes the same order.refund); the sink marks the row
-- restocked or refused in the transaction that applies the writer's answer.

-- One row per order and admin Idempotency-Key. status moves forward only:
--   requested  recorded; the provider's answer is not known yet (no answer, a
--              timeout, a retryable error): the money may have gone back.
--   refunded   the provider refunded (refund_id); the tickets are not back yet.
--   restocked  the writer put the tickets back on sale (order.refunded).      final
--   refused    the writer refused the restock (reason): money back, tickets not;
--              a person decides (docs/runbooks/RefundNotRestocked.md) and sets
--              resolved_at.                                                     final
--   failed     the provider refused the refund for good (reason): no money moved.
--              A retry of the admin's request may still refund it.
CREATE TABLE IF NOT EXISTS order_refund_requests (
    request_id       uuid PRIMARY KEY, -- the order.refund command's, the same on every publish
    order_id         uuid NOT NULL,
    idempotency_key  text NOT NULL,    -- the admin's
    event_id         uuid NOT NULL,
    zone_id          uuid NOT NULL,
    hold_id          uuid NOT NULL,
    customer_id      text,
    intent_id        text NOT NULL,
    quantity         bigint NOT NULL CHECK (quantity > 0),
    amount           bigint NOT NULL CHECK (amount >= 0),
    status           text NOT NULL DEFAULT 'requested'
                     CHECK (status IN ('requested', 'refunded', 'restocked', 'refused', 'failed')),
    refund_id        text,
    reason           text,
    attempts         integer NOT NULL DEFAULT 0, -- the payments worker's
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL, -- last change or attempt: the worker waits a grace period after it
    resolved_at      timestamptz,          -- set by a person who dealt with a refund the worker cannot finish
    UNIQUE (order_id, idempotency_key)
);

-- What the payments worker looks at: refunds not finished.
CREATE INDEX IF NOT EXISTS order_refund_requests_open ON order_refund_requests (updated_at)
    WHERE status IN ('requested', 'refunded');
