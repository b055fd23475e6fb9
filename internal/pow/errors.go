package pow

import "errors"

// Reason says why a solution was refused.
type Reason string

// The reasons Verify refuses a solution.
const (
	// ReasonMalformed: a token or nonce that cannot be a solution (bad encoding,
	// wrong length, unknown version).
	ReasonMalformed Reason = "malformed"
	// ReasonForged: a token whose MAC this Issuer's secret did not make.
	ReasonForged Reason = "forged"
	// ReasonExpired: a genuine challenge past its expiry.
	ReasonExpired Reason = "expired"
	// ReasonWrongEvent: a genuine challenge of another event.
	ReasonWrongEvent Reason = "wrong_event"
	// ReasonInsufficientWork: the hash has fewer leading zero bits than asked.
	ReasonInsufficientWork Reason = "insufficient_work"
	// ReasonReplayed: a challenge already spent on this instance.
	ReasonReplayed Reason = "replayed"
)

// Error is a refused solution: its Reason, and the detail in Err.
type Error struct {
	Reason Reason
	Err    error
}

// Error says the reason and the detail.
func (e *Error) Error() string { return "proof of work " + string(e.Reason) + ": " + e.Err.Error() }

// Unwrap gives the detail.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf is the Reason of an *Error in err's chain, "" when there is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

func refuse(r Reason, err error) *Error { return &Error{Reason: r, Err: err} }
