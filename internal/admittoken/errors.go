package admittoken

import "errors"

// Reason says why a token was refused; the API puts it in its error body and in
// the label of ticket_api_admission_rejected_total.
type Reason string

// The reasons a Verifier refuses a token.
const (
	// ReasonMalformed: not a JWT, too long, or claims of the wrong shape.
	ReasonMalformed Reason = "malformed"
	// ReasonForged: a signature that none of the keys made, an unknown or missing
	// kid, another algorithm (none, HS256, ...), or another issuer.
	ReasonForged Reason = "forged"
	// ReasonExpired: a genuine token past its exp.
	ReasonExpired Reason = "expired"
	// ReasonWrongEvent: a genuine token for another event.
	ReasonWrongEvent Reason = "wrong_event"
	// ReasonWrongBuyer: a genuine token for another customer.
	ReasonWrongBuyer Reason = "wrong_buyer"
)

// Error is a refused token: its Reason, and the detail in Err.
type Error struct {
	Reason Reason
	Err    error
}

// Error says the reason and the detail.
func (e *Error) Error() string { return "admission token " + string(e.Reason) + ": " + e.Err.Error() }

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
