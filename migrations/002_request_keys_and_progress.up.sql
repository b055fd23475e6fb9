-- Idempotency keys in the read model, and how far each events partition is decided.

-- The idempotency key of each decided request, so that the API answers a retry
-- from the read model (within the retention, 24 h) without publishing it again.
-- Keys are scoped per zone; the API looks a key up by (zone_id, idempotency_key).
ALTER TABLE requests ADD COLUMN IF NOT EXISTS idempotency_key text;
CREATE INDEX IF NOT EXISTS requests_zone_idempotency_key ON requests (zone_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- decided_through is the newest event time the sink has written from the
-- partition: the processor's clock only moves forward, so every command appended
-- before it has been decided and recorded. The API tells an unknown request id
-- from a pending one with it (see docs/adr/0004).
ALTER TABLE sink_offsets ADD COLUMN IF NOT EXISTS decided_through timestamptz;
