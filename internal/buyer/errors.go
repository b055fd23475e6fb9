package buyer

import "errors"

// Reason says why a buyer's token was refused.
type Reason string

// The reasons a Verifier refuses a token.
const (
	// ReasonMissing: no Authorization header.
	ReasonMissing Reason = "missing"
	// ReasonMalformed: not "Bearer <JWT>", not a JWT, too long, or no usable sub.
	ReasonMalformed Reason = "malformed"
	// ReasonInvalid: a bad signature, an algorithm not allowed, a key of another
	// type, no exp, or not valid yet.
	ReasonInvalid Reason = "invalid"
	// ReasonExpired: a genuine token past its exp (and the leeway).
	ReasonExpired Reason = "expired"
	// ReasonWrongIssuer: a token of another issuer.
	ReasonWrongIssuer Reason = "wrong_issuer"
	// ReasonWrongAudience: a token for another audience.
	ReasonWrongAudience Reason = "wrong_audience"
	// ReasonUnknownKey: a kid not in the key set, even after a reload (or no kid
	// while the set has several keys).
	ReasonUnknownKey Reason = "unknown_key"
)

// Error is a refused token: its Reason, and the detail in Err.
type Error struct {
	Reason Reason
	Err    error
}

// Error says the reason and the detail.
func (e *Error) Error() string { return "buyer token " + string(e.Reason) + ": " + e.Err.Error() }

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
