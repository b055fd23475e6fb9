package classic

import (
	"fmt"
	"net/http"
)

// Kind classifies an Error; statusOf maps it to an HTTP status at the edge.
type Kind int

// The kinds of Error, as in the pipeline's API.
const (
	KindInvalid         Kind = iota + 1 // the request is malformed
	KindNotFound                        // something the request names does not exist
	KindConflict                        // the request contradicts the current state
	KindUnprocessable                   // well-formed but breaks a business rule
	KindTooLarge                        // the body is over its bound
	KindUnsupportedType                 // the body is not JSON
	KindUnauthorized                    // missing or wrong admin token
	KindUnavailable                     // Postgres cannot be reached, or too busy
	KindInternal                        // a bug
)

// Error is a typed error with the pipeline's stable codes, e.g. "zone_not_found".
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Available is the zone's available tickets, for insufficient_capacity.
	Available *int64
	// Cause is the underlying error, logged but never shown to clients.
	Cause error
}

// Error is the code and message, and the cause when there is one.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

// Unwrap is the cause.
func (e *Error) Unwrap() error { return e.Cause }

func newError(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

func invalid(code, format string, args ...any) *Error {
	return newError(KindInvalid, code, fmt.Sprintf(format, args...))
}

func missing(field string) *Error {
	return invalid("missing_field", "field %q is required", field)
}

func unavailable(code, message string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Message: message, Cause: cause}
}

// The errors of a hold's decision, with the pipeline's codes.
var (
	errEventNotFound       = newError(KindNotFound, "event_not_found", "event not found")
	errZoneNotFound        = newError(KindNotFound, "zone_not_found", "zone not found in this event")
	errHoldNotFound        = newError(KindNotFound, "hold_not_found", "hold not found")
	errIdempotencyConflict = newError(KindConflict, "idempotency_conflict", "idempotency conflict")
	errOverloaded          = newError(KindUnavailable, "overloaded", "too many requests in flight; retry later")
)

func insufficientCapacity(available int64) *Error {
	e := newError(KindConflict, "insufficient_capacity", "insufficient capacity")
	e.Available = &available
	return e
}

func quantityOverLimit(limit int64) *Error {
	return newError(KindUnprocessable, "quantity_over_limit", fmt.Sprintf("quantity is over the limit of %d per hold", limit))
}

// databaseError is the error of a request whose database work failed: Postgres is
// unreachable, too slow (QueryTimeout), or the request was cancelled.
func databaseError(err error) *Error {
	return unavailable("database_unavailable", "the database cannot be reached; retry (with the same idempotency key)", err)
}

// statusOf is the one place where error kinds become HTTP status codes.
func statusOf(k Kind) int {
	switch k {
	case KindInvalid:
		return http.StatusBadRequest
	case KindNotFound:
		return http.StatusNotFound
	case KindConflict:
		return http.StatusConflict
	case KindUnprocessable:
		return http.StatusUnprocessableEntity
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindUnsupportedType:
		return http.StatusUnsupportedMediaType
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
