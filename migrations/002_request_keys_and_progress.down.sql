ALTER TABLE sink_offsets DROP COLUMN IF EXISTS decided_through;
DROP INDEX IF EXISTS requests_zone_idempotency_key;
ALTER TABLE requests DROP COLUMN IF EXISTS idempotency_key;
