package topics

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// SchemaVersion is the version of the command and outcome bodies; it is carried in
// every body ("v") and in the ce_dataschema header. Additive changes keep it;
// anything else raises it.
const SchemaVersion = 1

// CommandType names what a command asks the processor to do.
type CommandType string

const (
	// CmdConfigureZone creates a zone or changes its capacity, TTL or limits.
	CmdConfigureZone CommandType = "zone.configure"
	// CmdPlaceHold reserves tickets in a zone until the hold's TTL runs out.
	CmdPlaceHold CommandType = "hold.place"
	// CmdConfirmHold turns an active hold into an order.
	CmdConfirmHold CommandType = "hold.confirm"
	// CmdReleaseHold gives a hold's tickets back before its TTL runs out.
	CmdReleaseHold CommandType = "hold.release"
	// CmdConfigureQueue creates or changes an event's waiting room (Queue). Keyed by
	// event id, like every queue command.
	CmdConfigureQueue CommandType = "queue.configure"
	// CmdJoinQueue puts a buyer in an event's waiting room (Join); its request id is
	// the queue id.
	CmdJoinQueue CommandType = "queue.join"
	// CmdCreditAdmission gives tickets back to an admission whose hold did not sell
	// (Credit). The zone writer produces it.
	CmdCreditAdmission CommandType = "queue.credit"
	// CmdZoneStock tells the queue writer a zone's inventory after a change (Stock).
	// The zone writer produces it.
	CmdZoneStock CommandType = "queue.stock"
)

// Command is one request to the processor, as the API publishes it on the commands
// topic, keyed by ZoneID, or by EventID for queue commands and for hold.place with an
// undebited admission (see Key). Exactly one of the payload fields matches Type.
type Command struct {
	Version        int         `json:"v"`
	Type           CommandType `json:"type"`
	RequestID      uuid.UUID   `json:"request_id"`
	EventID        uuid.UUID   `json:"event_id"`
	ZoneID         uuid.UUID   `json:"zone_id"`
	IdempotencyKey string      `json:"idempotency_key,omitempty"`
	SubmittedAt    time.Time   `json:"submitted_at"`

	Configure *ConfigureZone `json:"configure,omitempty"`
	Place     *PlaceHold     `json:"place,omitempty"`
	Confirm   *ConfirmHold   `json:"confirm,omitempty"`
	Release   *ReleaseHold   `json:"release,omitempty"`

	Queue  *ConfigureQueue  `json:"queue,omitempty"`
	Join   *JoinQueue       `json:"join,omitempty"`
	Credit *CreditAdmission `json:"credit,omitempty"`
	Stock  *ZoneStock       `json:"stock,omitempty"`
	// Payments (topics/payment.go).
	StartPayment *StartPayment `json:"start_payment,omitempty"`
	Refund       *Refund       `json:"refund,omitempty"`
}

// ConfigureZone creates a zone (Capacity, EventName and ZoneName required) or changes
// the fields that are set. A nil field keeps the zone's current value (or the
// default, on creation).
type ConfigureZone struct {
	EventName       string `json:"event_name,omitempty"`
	ZoneName        string `json:"zone_name,omitempty"`
	Capacity        *int64 `json:"capacity,omitempty"`
	HoldTTLSeconds  *int64 `json:"hold_ttl_seconds,omitempty"`
	HoldQuantityMax *int64 `json:"hold_quantity_max,omitempty"`
	// CustomerLimit caps one customer's active holds plus orders in the zone, in
	// tickets; 0 means no limit.
	CustomerLimit *int64 `json:"customer_limit,omitempty"`
	// WaitingRoom marks the zone as sold behind its event's waiting room: the zone
	// writer then reports its stock to the queue writer (queue.stock).
	WaitingRoom *bool `json:"waiting_room,omitempty"`
	// PriceMinor is the price of one ticket in minor units of Currency; 0 makes the
	// zone free. Currency must be set with a price.
	PriceMinor *int64 `json:"price_minor,omitempty"`
	Currency   string `json:"currency,omitempty"`
}

// PlaceHold asks for Quantity tickets. CustomerID is optional; with it, the zone's
// per-customer limit applies. Admission is set on an event with a waiting room: the
// command goes first to the queue writer (keyed by event), which debits the
// admission and forwards it to the zone with Admission.Debited set.
type PlaceHold struct {
	Quantity   int64         `json:"quantity"`
	CustomerID string        `json:"customer_id,omitempty"`
	Admission  *AdmissionRef `json:"admission,omitempty"`
}

// ConfirmHold turns the hold into an order. Payment is required in a priced zone:
// the succeeded payment the webhook reported.
type ConfirmHold struct {
	HoldID  uuid.UUID `json:"hold_id"`
	Payment *Payment  `json:"payment,omitempty"`
}

// ReleaseHold gives the hold's tickets back.
type ReleaseHold struct {
	HoldID uuid.UUID `json:"hold_id"`
}

// OutcomeType names a fact the processor decided. Downstream consumers must skip
// types they do not know: new types may be added without a version change.
type OutcomeType string

const (
	// OutZoneConfigured: a zone was created or changed (Config).
	OutZoneConfigured OutcomeType = "zone.configured"
	// OutHoldPlaced: tickets are held until the hold's TTL runs out (Hold).
	OutHoldPlaced OutcomeType = "hold.placed"
	// OutHoldConfirmed: a hold became an order; its tickets are sold (Hold, Order).
	OutHoldConfirmed OutcomeType = "hold.confirmed"
	// OutHoldReleased: a hold's tickets went back on sale at the buyer's request.
	OutHoldReleased OutcomeType = "hold.released"
	// OutHoldExpired: a hold's TTL ran out on the partition clock; no command asked.
	OutHoldExpired OutcomeType = "hold.expired"
	// OutRequestRejected: the command changed nothing (Rejection says why).
	OutRequestRejected OutcomeType = "request.rejected"
	// OutRequestReplayed answers a retry with an idempotency key already decided:
	// it repeats the first answer and changes nothing.
	OutRequestReplayed OutcomeType = "request.replayed"
	// OutQueueConfigured: an event's waiting room was created or changed (Queue).
	OutQueueConfigured OutcomeType = "queue.configured"
	// OutQueueJoined: a buyer got a place in the waiting room (Entry, Progress).
	OutQueueJoined OutcomeType = "queue.joined"
	// OutQueueOpened: the sale started; the pre-queue was shuffled (Opened,
	// Progress), and one queue.positioned per pre-queue entry follows.
	OutQueueOpened OutcomeType = "queue.opened"
	// OutQueuePositioned: a pre-queue entry got its position at the start (Entry).
	OutQueuePositioned OutcomeType = "queue.positioned"
	// OutQueueAdmitted: a buyer may shop until Admission.ExpiresAt (Entry,
	// Admission, Progress).
	OutQueueAdmitted OutcomeType = "queue.admitted"
	// OutQueueAdmissionExpired: an admission's shopping window ran out (Entry).
	OutQueueAdmissionExpired OutcomeType = "queue.admission_expired"
	// OutQueueSoldOut: every zone of the room has nothing available or held; no
	// one waiting will be admitted unless tickets come back (Progress).
	OutQueueSoldOut OutcomeType = "queue.sold_out"
	// OutQueueResumed: tickets came back after queue.sold_out; admissions resume
	// (Progress).
	OutQueueResumed OutcomeType = "queue.resumed"
)

// Outcome is one fact the processor decided, a record on the events topic keyed by
// ZoneID (queue outcomes: by EventID, with ZoneID and Zone zero; the queue writer's
// rejections keep the command's ZoneID but are keyed by EventID). (EventID is the show the zone belongs to: "event" in Go names always means
// the show.) Every outcome that answers a request carries its RequestID; expirations
// carry none. Zone is the zone's inventory right after the outcome.
type Outcome struct {
	Version        int         `json:"v"`
	Type           OutcomeType `json:"type"`
	Time           time.Time   `json:"time"`
	EventID        uuid.UUID   `json:"event_id"`
	ZoneID         uuid.UUID   `json:"zone_id"`
	RequestID      uuid.UUID   `json:"request_id,omitzero"`
	IdempotencyKey string      `json:"idempotency_key,omitempty"`
	// CommandType is the type of the command this outcome answers, on every outcome
	// that carries a RequestID. request.rejected and request.replayed need it: their
	// own type does not say what was asked. Empty on expirations (and on outcomes
	// written before the field existed; readers infer what they can).
	CommandType CommandType `json:"command,omitempty"`
	Zone        Inventory   `json:"zone"`

	Config    *ZoneConfig `json:"config,omitempty"`
	Hold      *Hold       `json:"hold,omitempty"`
	Order     *Order      `json:"order,omitempty"`
	Rejection *Rejection  `json:"rejection,omitempty"`
	Replay    *Replay     `json:"replay,omitempty"`

	Queue     *QueueConfig    `json:"queue,omitempty"`
	Entry     *QueueEntry     `json:"entry,omitempty"`
	Opened    *QueueOpened    `json:"opened,omitempty"`
	Admission *QueueAdmission `json:"admission,omitempty"`
	Progress  *QueueProgress  `json:"progress,omitempty"`
	// Payments (topics/payment.go).
	Payment *Payment `json:"payment,omitempty"`
	Refund  *Refund  `json:"refund,omitempty"`
}

// Inventory is a zone's tickets: Available + Held + Sold == Capacity.
type Inventory struct {
	Capacity  int64 `json:"capacity"`
	Available int64 `json:"available"`
	Held      int64 `json:"held"`
	Sold      int64 `json:"sold"`
}

// ZoneConfig is a zone's configuration after a zone.configured outcome.
type ZoneConfig struct {
	EventName       string `json:"event_name"`
	ZoneName        string `json:"zone_name"`
	Capacity        int64  `json:"capacity"`
	HoldTTLSeconds  int64  `json:"hold_ttl_seconds"`
	HoldQuantityMax int64  `json:"hold_quantity_max"`
	CustomerLimit   int64  `json:"customer_limit"`
	// WaitingRoom is true when the zone is sold behind its event's waiting room.
	WaitingRoom bool `json:"waiting_room,omitempty"`
	Created     bool `json:"created"`
	// PriceMinor and Currency are the ticket price; absent for a free zone.
	PriceMinor int64  `json:"price_minor,omitempty"`
	Currency   string `json:"currency,omitempty"`
}

// HoldStatus is where a hold is in its life: active, then exactly one of confirmed,
// released or expired.
type HoldStatus string

const (
	HoldActive    HoldStatus = "active"
	HoldConfirmed HoldStatus = "confirmed"
	HoldReleased  HoldStatus = "released"
	HoldExpired   HoldStatus = "expired"
)

// Hold is a hold after the outcome. Its id is the request id of the command that placed
// it.
type Hold struct {
	ID         uuid.UUID  `json:"id"`
	Status     HoldStatus `json:"status"`
	Quantity   int64      `json:"quantity"`
	CustomerID string     `json:"customer_id,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
}

// Order is the order a confirm created. Its id is the request id of the confirm that
// created it.
type Order struct {
	ID         uuid.UUID `json:"id"`
	HoldID     uuid.UUID `json:"hold_id"`
	Quantity   int64     `json:"quantity"`
	CustomerID string    `json:"customer_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// Reason says why a request was rejected.
type Reason string

const (
	ReasonInvalidCommand        Reason = "invalid_command"
	ReasonZoneNotFound          Reason = "zone_not_found"
	ReasonCapacityBelowTaken    Reason = "capacity_below_taken"
	ReasonInvalidTTL            Reason = "invalid_ttl"
	ReasonInsufficientCapacity  Reason = "insufficient_capacity"
	ReasonQuantityOverLimit     Reason = "quantity_over_limit"
	ReasonCustomerLimitExceeded Reason = "customer_limit_exceeded"
	ReasonIdempotencyConflict   Reason = "idempotency_conflict"
	ReasonHoldNotFound          Reason = "hold_not_found"
	ReasonHoldExpired           Reason = "hold_expired"
	ReasonHoldAlreadyConfirmed  Reason = "hold_already_confirmed"
	ReasonHoldAlreadyReleased   Reason = "hold_already_released"
	ReasonPartitionFull         Reason = "partition_full"

	ReasonAdmissionNotFound          Reason = "admission_not_found"
	ReasonAdmissionExpired           Reason = "admission_expired"
	ReasonAdmissionAllowanceExceeded Reason = "admission_allowance_exceeded"
	ReasonAdmissionCustomerMismatch  Reason = "admission_customer_mismatch"
	// ReasonAdmissionRequired: a hold reached a zone sold behind its event's
	// waiting room without an admission the queue writer debited.
	ReasonAdmissionRequired Reason = "admission_required"
	ReasonQueueNotOpen      Reason = "queue_not_open"
	ReasonQueueNotFound     Reason = "queue_not_found"
)

// Rejection says why a request changed nothing. Available is the zone's available
// tickets when the reason is insufficient_capacity; in JSON it is present exactly
// then, 0 included (sold out), and absent for every other reason.
type Rejection struct {
	Reason    Reason `json:"reason"`
	Message   string `json:"message"`
	Available int64  `json:"available,omitempty"`
}

// MarshalJSON writes available for insufficient_capacity even when it is 0.
func (r Rejection) MarshalJSON() ([]byte, error) {
	type plain Rejection // without this method
	if r.Reason != ReasonInsufficientCapacity {
		return json.Marshal(plain(r))
	}
	return json.Marshal(struct {
		Reason    Reason `json:"reason"`
		Message   string `json:"message"`
		Available int64  `json:"available"`
	}{r.Reason, r.Message, r.Available})
}

// Replay repeats the first answer to an idempotency key: the request that decided it,
// the type of the outcome that answered it, and the hold, order or rejection it named.
type Replay struct {
	OriginalRequestID uuid.UUID   `json:"original_request_id"`
	OriginalType      OutcomeType `json:"original_type"`
	HoldID            uuid.UUID   `json:"hold_id,omitzero"`
	OrderID           uuid.UUID   `json:"order_id,omitzero"`
	Rejection         *Rejection  `json:"rejection,omitempty"`
}
