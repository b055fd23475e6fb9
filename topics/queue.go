package topics

import (
	"time"

	"github.com/google/uuid"
)

// The waiting room's commands and outcomes. An event's queue lives on the partition
// of the event (PartitionOf(eventID, n), key eventID.String()); its commands and
// outcomes are keyed by event id, and its state is in that partition's changelog.

// Defaults and limits of a waiting room's configuration.
const (
	// QueueRateMaxDefault is the cap, in admissions per second, of an automatic rate
	// configured without one.
	QueueRateMaxDefault = 50.0
	// QueueRateMax bounds RatePerSecond and RateMax, in admissions per second.
	QueueRateMax = 10_000.0
	// QueueShopSecondsDefault is an admission's lifetime, in seconds, when not set.
	QueueShopSecondsDefault = 600
	// QueueShopSecondsMin and QueueShopSecondsMax bound ShopSeconds.
	QueueShopSecondsMin = 10
	QueueShopSecondsMax = 24 * 3600
	// QueueAllowanceDefault is the tickets one admission allows, when not set.
	QueueAllowanceDefault = 4
	// QueueAllowanceMax bounds Allowance and CustomerLimit, in tickets.
	QueueAllowanceMax = 100
	// QueueZonesMax bounds the zones of one waiting room.
	QueueZonesMax = 100
)

// ConfigureQueue creates or replaces an event's waiting room. Zero values take the
// defaults above.
type ConfigureQueue struct {
	// Enabled turns the room on; false closes it to new joiners (entries already in
	// it keep their places and admissions).
	Enabled bool `json:"enabled"`
	// OpensAt is when joining is allowed from; StartsAt is when the sale starts.
	// Joiners before StartsAt are the pre-queue, shuffled at StartsAt.
	OpensAt  time.Time `json:"opens_at"`
	StartsAt time.Time `json:"starts_at"`
	// RatePerSecond is the admissions per second; 0 means automatic: admit while the
	// unspent allowance of live admissions is below the tickets left, at most RateMax
	// per second.
	RatePerSecond float64 `json:"rate_per_second"`
	// RateMax caps the automatic rate (default QueueRateMaxDefault).
	RateMax float64 `json:"rate_max,omitempty"`
	// ShopSeconds is an admission's lifetime (default QueueShopSecondsDefault).
	ShopSeconds int64 `json:"shop_seconds,omitempty"`
	// Allowance is the tickets one admission allows (default QueueAllowanceDefault).
	Allowance int64 `json:"allowance,omitempty"`
	// CustomerLimit is the tickets one buyer may hold or buy in the event across
	// admissions; 0 means Allowance.
	CustomerLimit int64 `json:"customer_limit,omitempty"`
	// Zones are the event's zones: the room is sold out when all of them are.
	Zones []uuid.UUID `json:"zones,omitempty"`
}

// JoinQueue asks for a place in the event's waiting room. The command's request id
// is the queue id.
type JoinQueue struct {
	CustomerID string `json:"customer_id,omitempty"`
}

// AdmissionRef names the admission a hold spends. Debited is set by the queue writer
// when it forwards the command to the zone.
type AdmissionRef struct {
	QueueID uuid.UUID `json:"queue_id"`
	Debited bool      `json:"debited,omitempty"`
}

// CreditAdmission gives Quantity tickets of hold HoldID back to the admission
// QueueID (and to its buyer's limit): the hold was rejected, released or expired.
type CreditAdmission struct {
	QueueID  uuid.UUID `json:"queue_id"`
	Quantity int64     `json:"quantity"`
	HoldID   uuid.UUID `json:"hold_id"`
}

// ZoneStock is a zone's available and held tickets after a change.
type ZoneStock struct {
	ZoneID    uuid.UUID `json:"zone_id"`
	Available int64     `json:"available"`
	Held      int64     `json:"held"`
}

// QueueConfig is a waiting room's effective configuration (defaults applied).
type QueueConfig struct {
	Enabled       bool        `json:"enabled"`
	OpensAt       time.Time   `json:"opens_at"`
	StartsAt      time.Time   `json:"starts_at"`
	RatePerSecond float64     `json:"rate_per_second"`
	RateMax       float64     `json:"rate_max"`
	ShopSeconds   int64       `json:"shop_seconds"`
	Allowance     int64       `json:"allowance"`
	CustomerLimit int64       `json:"customer_limit"`
	Zones         []uuid.UUID `json:"zones"`
	Created       bool        `json:"created"`
}

// QueueEntry is one buyer's place. Position is 0 while in the pre-queue.
type QueueEntry struct {
	QueueID    uuid.UUID `json:"queue_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	JoinedAt   time.Time `json:"joined_at"`
	PreQueue   bool      `json:"pre_queue"`
	Position   int64     `json:"position"`
}

// QueueOpened records the start of the sale: the shuffle's seed (hex of the
// SHA-256 it is derived from), how many were in the pre-queue, and when.
type QueueOpened struct {
	Seed         string    `json:"seed"`
	PreQueueSize int64     `json:"pre_queue_size"`
	StartedAt    time.Time `json:"started_at"`
}

// QueueAdmission is an admission's window and ticket allowance.
type QueueAdmission struct {
	AdmittedAt time.Time `json:"admitted_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Allowance  int64     `json:"allowance"`
}

// QueueProgress is where a room stands: the highest position admitted, how many
// wait, and the admission rate in effect.
type QueueProgress struct {
	AdmittedThrough int64   `json:"admitted_through"`
	Waiting         int64   `json:"waiting"`
	RatePerSecond   float64 `json:"rate_per_second"`
}

// EventKeyed reports whether the command is keyed (and partitioned) by its event
// rather than its zone: queue commands, and a hold.place whose admission the queue
// writer has not debited yet.
func (c *Command) EventKeyed() bool {
	switch c.Type {
	case CmdConfigureQueue, CmdJoinQueue, CmdCreditAdmission, CmdZoneStock:
		return true
	case CmdPlaceHold:
		return c.Place != nil && c.Place.Admission != nil && !c.Place.Admission.Debited
	}
	return false
}

// Key is the command's record key: the event id for an EventKeyed command, the zone
// id otherwise.
func (c *Command) Key() uuid.UUID {
	if c.EventKeyed() {
		return c.EventID
	}
	return c.ZoneID
}

// IsQueueOutcome reports whether an outcome type is one of the waiting room's.
func IsQueueOutcome(t OutcomeType) bool {
	switch t {
	case OutQueueConfigured, OutQueueJoined, OutQueueOpened, OutQueuePositioned, OutQueueAdmitted,
		OutQueueAdmissionExpired, OutQueueSoldOut, OutQueueResumed:
		return true
	}
	return false
}
