package classic

import (
	"time"

	"github.com/google/uuid"
)

// holdJSON is a hold as the pipeline's GET /holds/{id} shows it; RequestID names the
// request that created it.
type holdJSON struct {
	ID         uuid.UUID `json:"id"`
	RequestID  uuid.UUID `json:"request_id"`
	EventID    uuid.UUID `json:"event_id"`
	ZoneID     uuid.UUID `json:"zone_id"`
	Quantity   int64     `json:"quantity"`
	CustomerID string    `json:"customer_id,omitempty"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func toHoldJSON(h *hold) *holdJSON {
	return &holdJSON{ID: h.ID, RequestID: h.RequestID, EventID: h.EventID, ZoneID: h.ZoneID,
		Quantity: h.Quantity, CustomerID: h.CustomerID, Status: h.Status,
		CreatedAt: h.CreatedAt.UTC(), ExpiresAt: h.ExpiresAt.UTC()}
}

// errorJSON is the body of every error response: {"error": {...}}.
type errorJSON struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Available *int64 `json:"available,omitempty"`
}

func errorDetailOf(e *Error) *errorDetail {
	return &errorDetail{Code: e.Code, Message: e.Message, Available: e.Available}
}

// Statuses of a request, as the pipeline names them. The classic server decides
// every request before it answers, so it never says "pending".
const (
	statusSucceeded = "succeeded"
	statusRejected  = "rejected"
	statusInvalid   = "invalid"
)

type createdZoneJSON struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	RequestID uuid.UUID `json:"request_id"`
	Status    string    `json:"status"`
}

// createdEventJSON is the 201 of POST /events: the pipeline's 202 body, decided.
type createdEventJSON struct {
	EventID uuid.UUID         `json:"event_id"`
	Status  string            `json:"status"`
	Zones   []createdZoneJSON `json:"zones"`
}

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

// batchJSON is the answer of POST /holds/batch: one result per hold, in order.
type batchJSON struct {
	Results []batchItemJSON `json:"results"`
}

type batchItemJSON struct {
	Index     int          `json:"index"`
	Status    string       `json:"status"`
	RequestID *uuid.UUID   `json:"request_id,omitempty"`
	Hold      *holdJSON    `json:"hold,omitempty"`
	Error     *errorDetail `json:"error,omitempty"`
	Replayed  bool         `json:"replayed,omitempty"`
}
