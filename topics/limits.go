package topics

import "time"

// Limits of the contract: what a command may carry. The API refuses a request beyond
// them before it publishes anything (openapi.yaml states the same numbers); the
// processor rejects a command beyond them (invalid_command, invalid_ttl), so a record
// that did not come through the API cannot grow its state either.
const (
	// TextBytesMax bounds every text a command carries, in bytes: event and zone
	// names, customer ids and idempotency keys.
	TextBytesMax = 200
	// ZoneCapacityMax bounds a zone's capacity, in tickets, and with it its
	// hold_quantity_max and customer_limit (and the zone's per-customer map, one
	// entry per customer holding or owning a ticket).
	ZoneCapacityMax = 10_000_000
	// HoldQuantityMin is the fewest tickets one hold may reserve.
	HoldQuantityMin = 1
	// HoldQuantityMaxDefault is the hold_quantity_max, in tickets per hold, of a zone
	// configured without one.
	HoldQuantityMaxDefault = 10
	// HoldTTLMin and HoldTTLMax bound a zone's hold TTL (hold_ttl_seconds). The TTL is
	// a whole number of seconds.
	HoldTTLMin = 10 * time.Second
	HoldTTLMax = time.Hour
	// HoldTTLDefault is the hold TTL of a zone configured without one.
	HoldTTLDefault = 10 * time.Minute
)

// IdempotencyRetention is how long an idempotency key is promised to be kept after
// its request was decided: a retry with the same key within it gets the first answer
// and never creates a second hold or order. The processor keeps keys at least until
// the read model has them; the API answers older retries from the read model.
const IdempotencyRetention = 24 * time.Hour
