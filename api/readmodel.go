package api

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Publisher sends commands to the processor, returning once each is durably
// accepted or failed (package ingest produces to Kafka with acks=all).
type Publisher interface {
	// PublishAll publishes cmds together and returns once each is accepted or
	// failed: errs[i] is cmds[i]'s error, nil when it was accepted.
	PublishAll(ctx context.Context, cmds []*topics.Command) (errs []error)
}

// ReadModel answers the API's reads from the read model the sink writes. A row that
// does not exist is ErrNotFound; any other error means the read model is unreachable.
// *Store implements it on Postgres.
type ReadModel interface {
	// Zone returns one zone with its configuration and inventory.
	Zone(ctx context.Context, id uuid.UUID) (Zone, error)
	// Event returns an event with all its zones.
	Event(ctx context.Context, id uuid.UUID) (Event, error)
	Hold(ctx context.Context, id uuid.UUID) (Hold, error)
	Order(ctx context.Context, id uuid.UUID) (Order, error)
	// RequestResults returns the decided requests among ids, in any order, with
	// the current state of the hold and order they name. Undecided ids are
	// missing from the result; that is not an error.
	RequestResults(ctx context.Context, ids []uuid.UUID) ([]RequestResult, error)

	// KeyDecisions returns, for each idempotency key of a zone, the decision that
	// answers a retry of it if one was made after since (nil otherwise), in the
	// order of keys, in one round trip for all of them. That is the key's first
	// decided request, not a replay, and not a rejection the processor does not
	// remember under the key (idempotency_conflict, invalid_command, or the
	// retryable partition_full).
	KeyDecisions(ctx context.Context, keys []ZoneKey, since time.Time) ([]*RequestResult, error)
	// HoldAndKey returns a hold and the decision of key in the hold's zone (as
	// KeyDecisions), in one round trip.
	HoldAndKey(ctx context.Context, hold uuid.UUID, key string, since time.Time) (Hold, *RequestResult, error)
	// DecidedThrough is the newest event time the read model has from a
	// partition of the events topic: every command appended to the partition
	// before it is decided and recorded. Zero when the partition has none.
	DecidedThrough(ctx context.Context, partition int32) (time.Time, error)
}

// ZoneKey is an idempotency key in a zone: keys are scoped to their zone.
type ZoneKey struct {
	Zone uuid.UUID
	Key  string
}

// Zone is a row of zones: configuration and inventory as of AsOf, the processor's
// clock at the newest event the sink applied.
type Zone struct {
	ID              uuid.UUID
	EventID         uuid.UUID
	Name            string
	Capacity        int64
	Available       int64
	Held            int64
	Sold            int64
	HoldTTLSeconds  int64
	HoldQuantityMax int64
	CustomerLimit   int64
	AsOf            time.Time
	// WaitingRoom is true when the zone is sold behind its event's waiting room:
	// a hold in it needs an admission token.
	WaitingRoom bool
	// PriceMinor and Currency are the ticket price; 0 and "" for a free zone.
	PriceMinor int64
	Currency   string
}

// Event is a row of events with its zones, ordered by name.
type Event struct {
	ID        uuid.UUID
	Name      string
	CreatedAt time.Time
	Zones     []Zone
}

// Hold is a row of holds. ResolvedAt is nil and OrderID is uuid.Nil until they
// apply.
type Hold struct {
	ID             uuid.UUID
	EventID        uuid.UUID
	ZoneID         uuid.UUID
	Quantity       int64
	CustomerID     string
	Status         topics.HoldStatus
	IdempotencyKey string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	ResolvedAt     *time.Time
	OrderID        uuid.UUID
}

// Order is a row of orders.
type Order struct {
	ID         uuid.UUID
	HoldID     uuid.UUID
	EventID    uuid.UUID
	ZoneID     uuid.UUID
	Quantity   int64
	CustomerID string
	CreatedAt  time.Time
}

// RequestStatus is a decided request's outcome.
type RequestStatus string

const (
	RequestSucceeded RequestStatus = "succeeded"
	RequestRejected  RequestStatus = "rejected"
	// RequestPending is never stored: it is what the API answers for a request
	// the sink has not recorded yet.
	RequestPending RequestStatus = "pending"
)

// RequestResult is a row of requests joined with the current state of the hold and
// the order it names (nil when it names none or the row is missing).
type RequestResult struct {
	ID        uuid.UUID
	Type      topics.CommandType
	EventID   uuid.UUID
	ZoneID    uuid.UUID
	Status    RequestStatus
	EventType topics.OutcomeType
	HoldID    uuid.UUID
	OrderID   uuid.UUID
	Reason    topics.Reason
	Message   string
	Available *int64
	// Replayed is true when the request repeated an idempotency key already
	// decided, and this result repeats the first answer.
	Replayed  bool
	DecidedAt time.Time

	Hold  *Hold
	Order *Order
}
