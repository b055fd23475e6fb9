package api

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// holdJSON is a hold as every response shows it. RequestID is set only when the hold
// answers a submit (Prefer: wait), and names that submit.
type holdJSON struct {
	ID         uuid.UUID         `json:"id"`
	RequestID  *uuid.UUID        `json:"request_id,omitempty"`
	EventID    uuid.UUID         `json:"event_id"`
	ZoneID     uuid.UUID         `json:"zone_id"`
	Quantity   int64             `json:"quantity"`
	CustomerID string            `json:"customer_id,omitempty"`
	Status     topics.HoldStatus `json:"status"`
	CreatedAt  time.Time         `json:"created_at"`
	ExpiresAt  time.Time         `json:"expires_at"`
	ResolvedAt *time.Time        `json:"resolved_at,omitempty"`
	OrderID    *uuid.UUID        `json:"order_id,omitempty"`
}

// orderStatusConfirmed is the only status an order has: it exists once confirmed.
const orderStatusConfirmed = "confirmed"

// orderJSON is an order as every response shows it.
type orderJSON struct {
	ID         uuid.UUID  `json:"id"`
	RequestID  *uuid.UUID `json:"request_id,omitempty"`
	HoldID     uuid.UUID  `json:"hold_id"`
	EventID    uuid.UUID  `json:"event_id"`
	ZoneID     uuid.UUID  `json:"zone_id"`
	Quantity   int64      `json:"quantity"`
	CustomerID string     `json:"customer_id,omitempty"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
}

// errorJSON is the body of every error response: {"error": {...}}. RequestID names
// the submit when the error is the processor's decision on it.
type errorJSON struct {
	Error     errorDetail `json:"error"`
	RequestID *uuid.UUID  `json:"request_id,omitempty"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Available *int64 `json:"available,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// requestJSON is GET /requests/{id}: pending, or the decided result.
type requestJSON struct {
	RequestID uuid.UUID          `json:"request_id"`
	Status    RequestStatus      `json:"status"`
	Type      topics.CommandType `json:"type,omitempty"`
	EventID   *uuid.UUID         `json:"event_id,omitempty"`
	ZoneID    *uuid.UUID         `json:"zone_id,omitempty"`
	Replayed  bool               `json:"replayed,omitempty"`
	DecidedAt *time.Time         `json:"decided_at,omitempty"`
	Hold      *holdJSON          `json:"hold,omitempty"`
	Order     *orderJSON         `json:"order,omitempty"`
	Reason    topics.Reason      `json:"reason,omitempty"`
	Error     *errorDetail       `json:"error,omitempty"`
}

// outcome is what a decided request means for the client. GET /requests/{id} and
// a submit that waited (Prefer: wait) both derive their answer from it, so that they
// always agree on the same result.
type outcome struct {
	// code is the HTTP status a waited submit answers with.
	code  int
	hold  *holdJSON
	order *orderJSON
	err   *Error
}

// decide maps a decided request to its outcome: a placed hold is 201 (also when an
// idempotent retry replays it), a new order 201 and a replayed one 200, a release or
// zone configuration 200, and a rejection the status of its reason.
func decide(r *RequestResult) outcome {
	if r.Status != RequestSucceeded {
		e := rejectionError(r.Reason, r.Message, r.Available)
		return outcome{code: statusOf(e.Kind), err: e}
	}
	switch r.Type {
	case topics.CmdPlaceHold:
		return outcome{code: http.StatusCreated, hold: resultHold(r)}
	case topics.CmdConfirmHold:
		code := http.StatusCreated
		if r.Replayed {
			code = http.StatusOK
		}
		return outcome{code: code, order: resultOrder(r), hold: holdOrNil(r.Hold)}
	case topics.CmdReleaseHold:
		return outcome{code: http.StatusOK, hold: resultHold(r)}
	default:
		return outcome{code: http.StatusOK}
	}
}

// resultHold is the hold a result names, in its current state. The sink writes a
// request and its hold in one transaction, so the hold is only missing if the read
// model was rebuilt in between; then the request's own fields stand in.
func resultHold(r *RequestResult) *holdJSON {
	if r.Hold != nil {
		return toHoldJSON(r.Hold)
	}
	if r.HoldID == uuid.Nil {
		return nil
	}
	return &holdJSON{ID: r.HoldID, EventID: r.EventID, ZoneID: r.ZoneID, Status: topics.HoldActive}
}

func resultOrder(r *RequestResult) *orderJSON {
	if r.Order != nil {
		return toOrderJSON(r.Order)
	}
	if r.OrderID == uuid.Nil {
		return nil
	}
	return &orderJSON{ID: r.OrderID, HoldID: r.HoldID, EventID: r.EventID, ZoneID: r.ZoneID,
		Status: orderStatusConfirmed}
}

func holdOrNil(h *Hold) *holdJSON {
	if h == nil {
		return nil
	}
	return toHoldJSON(h)
}

// toRequestJSON is GET /requests/{id} for a decided request.
func toRequestJSON(r *RequestResult) requestJSON {
	o := decide(r)
	eventID, zoneID, decidedAt := r.EventID, r.ZoneID, r.DecidedAt.UTC()
	j := requestJSON{RequestID: r.ID, Status: r.Status, Type: r.Type, EventID: &eventID,
		ZoneID: &zoneID, Replayed: r.Replayed, DecidedAt: &decidedAt, Hold: o.hold, Order: o.order}
	if o.err != nil {
		j.Reason = r.Reason
		j.Error = errorDetailOf(o.err)
	}
	return j
}

// waitedBody is the body a submit that waited answers with, beside decide's code.
func waitedBody(r *RequestResult, o outcome) any {
	id := r.ID
	switch {
	case o.err != nil:
		return errorJSON{Error: *errorDetailOf(o.err), RequestID: &id}
	case o.order != nil:
		order := *o.order
		order.RequestID = &id
		return order
	case o.hold != nil:
		hold := *o.hold
		hold.RequestID = &id
		return hold
	default:
		return toRequestJSON(r)
	}
}

func errorDetailOf(e *Error) *errorDetail {
	return &errorDetail{Code: e.Code, Message: e.Message, Available: e.Available, Reason: e.Reason}
}

func toHoldJSON(h *Hold) *holdJSON {
	j := &holdJSON{ID: h.ID, EventID: h.EventID, ZoneID: h.ZoneID, Quantity: h.Quantity,
		CustomerID: h.CustomerID, Status: h.Status, CreatedAt: h.CreatedAt.UTC(),
		ExpiresAt: h.ExpiresAt.UTC()}
	if h.ResolvedAt != nil {
		t := h.ResolvedAt.UTC()
		j.ResolvedAt = &t
	}
	if h.OrderID != uuid.Nil {
		id := h.OrderID
		j.OrderID = &id
	}
	return j
}

func toOrderJSON(o *Order) *orderJSON {
	return &orderJSON{ID: o.ID, HoldID: o.HoldID, EventID: o.EventID, ZoneID: o.ZoneID,
		Quantity: o.Quantity, CustomerID: o.CustomerID, Status: orderStatusConfirmed,
		CreatedAt: o.CreatedAt.UTC()}
}

// zoneJSON is a zone with its configuration and inventory.
type zoneJSON struct {
	ID              uuid.UUID `json:"id"`
	Name            string    `json:"name"`
	Capacity        int64     `json:"capacity"`
	Available       int64     `json:"available"`
	Held            int64     `json:"held"`
	Sold            int64     `json:"sold"`
	HoldTTLSeconds  int64     `json:"hold_ttl_seconds"`
	HoldQuantityMax int64     `json:"hold_quantity_max"`
	CustomerLimit   int64     `json:"customer_limit"`
	AsOf            time.Time `json:"as_of"`
	PriceMinor      int64     `json:"price_minor,omitempty"`
	Currency        string    `json:"currency,omitempty"`
}

type eventJSON struct {
	ID        uuid.UUID  `json:"id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	Zones     []zoneJSON `json:"zones"`
}

// availabilityJSON is GET /events/{id}/availability: each zone's inventory and how
// fresh it is.
type availabilityJSON struct {
	EventID uuid.UUID              `json:"event_id"`
	Zones   []zoneAvailabilityJSON `json:"zones"`
}

type zoneAvailabilityJSON struct {
	ZoneID    uuid.UUID `json:"zone_id"`
	Name      string    `json:"name"`
	Capacity  int64     `json:"capacity"`
	Available int64     `json:"available"`
	Held      int64     `json:"held"`
	Sold      int64     `json:"sold"`
	AsOf      time.Time `json:"as_of"`
}

func toEventJSON(e *Event) eventJSON {
	j := eventJSON{ID: e.ID, Name: e.Name, CreatedAt: e.CreatedAt.UTC(), Zones: make([]zoneJSON, 0, len(e.Zones))}
	for _, z := range e.Zones {
		j.Zones = append(j.Zones, zoneJSON{ID: z.ID, Name: z.Name, Capacity: z.Capacity,
			Available: z.Available, Held: z.Held, Sold: z.Sold, HoldTTLSeconds: z.HoldTTLSeconds,
			HoldQuantityMax: z.HoldQuantityMax, CustomerLimit: z.CustomerLimit, AsOf: z.AsOf.UTC(),
			PriceMinor: z.PriceMinor, Currency: z.Currency})
	}
	return j
}

func toAvailabilityJSON(e *Event) availabilityJSON {
	j := availabilityJSON{EventID: e.ID, Zones: make([]zoneAvailabilityJSON, 0, len(e.Zones))}
	for _, z := range e.Zones {
		j.Zones = append(j.Zones, zoneAvailabilityJSON{ZoneID: z.ID, Name: z.Name,
			Capacity: z.Capacity, Available: z.Available, Held: z.Held, Sold: z.Sold, AsOf: z.AsOf.UTC()})
	}
	return j
}
