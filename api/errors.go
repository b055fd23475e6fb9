package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// ErrNotFound is what a ReadModel returns for a row that does not exist.
var ErrNotFound = errors.New("not found")

// Kind classifies an Error; statusOf maps it to an HTTP status at the edge.
type Kind int

const (
	KindInvalid         Kind = iota + 1 // the request is malformed
	KindNotFound                        // something the request names does not exist
	KindConflict                        // the request contradicts the current state
	KindUnprocessable                   // well-formed but breaks a business rule
	KindTooLarge                        // the body is over Config.BodyBytesMax
	KindUnsupportedType                 // the body is not JSON
	KindUnauthorized                    // missing or wrong admin token
	KindForbidden                       // a credential that is valid but not for this
	KindRateLimited                     // the client's bucket is empty
	KindUnavailable                     // Kafka or Postgres cannot be reached
	KindInternal                        // a bug
)

// Error is a typed error with a stable code for clients, e.g. "zone_not_found".
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// Available is the zone's available tickets, for insufficient_capacity.
	Available *int64
	// Reason details a refused credential (an admission token, a proof of work, a
	// buyer token), e.g. "expired".
	Reason string
	// Cause is the underlying error, logged but never shown to clients.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

func newError(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

func invalid(code, format string, args ...any) *Error {
	return newError(KindInvalid, code, fmt.Sprintf(format, args...))
}

func notFound(code, message string) *Error { return newError(KindNotFound, code, message) }

func unavailable(code, message string, cause error) *Error {
	return &Error{Kind: KindUnavailable, Code: code, Message: message, Cause: cause}
}

// readError turns a ReadModel error into a typed error: ErrNotFound becomes the
// given not-found error (when given), anything else means the read model is
// unreachable.
func readError(err error, ifNotFound *Error) *Error {
	if errors.Is(err, ErrNotFound) && ifNotFound != nil {
		return ifNotFound
	}
	return unavailable("read_model_unavailable", "the read model cannot be reached", err)
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
	case KindForbidden:
		return http.StatusForbidden
	case KindRateLimited:
		return http.StatusTooManyRequests
	case KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// rejectionKinds maps the processor's rejection reasons to error kinds. A reason
// not listed (a newer processor) is a conflict: the request changed nothing.
var rejectionKinds = map[topics.Reason]Kind{
	topics.ReasonInvalidCommand:        KindUnprocessable,
	topics.ReasonZoneNotFound:          KindNotFound,
	topics.ReasonCapacityBelowTaken:    KindConflict,
	topics.ReasonInvalidTTL:            KindUnprocessable,
	topics.ReasonInsufficientCapacity:  KindConflict,
	topics.ReasonQuantityOverLimit:     KindUnprocessable,
	topics.ReasonCustomerLimitExceeded: KindConflict,
	topics.ReasonIdempotencyConflict:   KindConflict,
	topics.ReasonHoldNotFound:          KindNotFound,
	topics.ReasonHoldExpired:           KindConflict,
	topics.ReasonHoldAlreadyConfirmed:  KindConflict,
	topics.ReasonHoldAlreadyReleased:   KindConflict,
	topics.ReasonPartitionFull:         KindUnavailable,

	topics.ReasonAdmissionNotFound:          KindForbidden,
	topics.ReasonAdmissionExpired:           KindForbidden,
	topics.ReasonAdmissionCustomerMismatch:  KindForbidden,
	topics.ReasonAdmissionAllowanceExceeded: KindForbidden,
	topics.ReasonAdmissionRequired:          KindUnauthorized,
	topics.ReasonQueueNotOpen:               KindConflict,
	topics.ReasonQueueNotFound:              KindNotFound,
}

// rejectionMessages are the messages clients see for a rejection when the
// processor gave none.
var rejectionMessages = map[topics.Reason]string{
	topics.ReasonIdempotencyConflict:  "idempotency conflict",
	topics.ReasonInsufficientCapacity: "insufficient capacity",
	topics.ReasonHoldNotFound:         "hold not found",
	topics.ReasonHoldExpired:          "hold expired",
}

// rejectionError is the typed error for a request the processor rejected.
func rejectionError(reason topics.Reason, message string, available *int64) *Error {
	kind, ok := rejectionKinds[reason]
	if !ok {
		kind = KindConflict
	}
	switch {
	case reason == topics.ReasonIdempotencyConflict:
		// The seed's clients match this exact message.
		message = "idempotency conflict"
	case message != "":
	case rejectionMessages[reason] != "":
		message = rejectionMessages[reason]
	default:
		message = string(reason)
	}
	e := newError(kind, string(reason), message)
	if reason == topics.ReasonInsufficientCapacity {
		e.Available = available
	}
	return e
}
