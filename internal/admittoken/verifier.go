package admittoken

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Verifier checks admission tokens against a set of public keys, one per kid.
type Verifier struct {
	keys map[string]ed25519.PublicKey
}

// NewVerifier accepts tokens signed by any of pubs: the current key and, during a
// rotation, the previous ones. A key that is not ed25519.PublicKeySize bytes long
// is a programmer error and panics.
func NewVerifier(pubs ...ed25519.PublicKey) *Verifier {
	v := &Verifier{keys: make(map[string]ed25519.PublicKey, len(pubs))}
	for _, p := range pubs {
		if len(p) != ed25519.PublicKeySize {
			panic(fmt.Sprintf("admittoken: public key of %d bytes", len(p)))
		}
		v.keys[KeyID(p)] = p
	}
	return v
}

// Verify checks token at now for a hold of customerID on eventID and gives its
// claims. A refusal is an *Error whose Reason says why; the signature is checked
// first, so a forged token is never reported as expired or for another event.
func (v *Verifier) Verify(token string, eventID uuid.UUID, customerID string, now time.Time) (Claims, error) {
	if len(token) > TokenBytesMax {
		return Claims{}, refuse(ReasonMalformed, fmt.Errorf("%d bytes, at most %d", len(token), TokenBytesMax))
	}
	var w wire
	_, err := jwt.ParseWithClaims(token, &w, v.key,
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return Claims{}, refuse(reasonOfJWT(err), err)
	}
	c, err := w.claims()
	switch {
	case err != nil:
		return Claims{}, refuse(ReasonMalformed, err)
	case c.EventID != eventID:
		return Claims{}, refuse(ReasonWrongEvent, fmt.Errorf("token for event %s, hold on %s", c.EventID, eventID))
	case c.CustomerID != customerID:
		return Claims{}, refuse(ReasonWrongBuyer, fmt.Errorf("token for customer %q, hold of %q", c.CustomerID, customerID))
	}
	return c, nil
}

// key finds the public key of the token's kid; a token without one, or with one
// the Verifier does not know, was not signed by any of its keys.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if p, ok := v.keys[kid]; ok {
		return p, nil
	}
	return nil, errUnknownKey
}

var errUnknownKey = errors.New("unknown kid")

// reasonOfJWT maps the parser's errors. Order matters: the parser joins every
// failed claim, and another issuer means the token is not ours even if it is also
// expired.
func reasonOfJWT(err error) Reason {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ReasonMalformed
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid),
		errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ReasonForged
	case errors.Is(err, jwt.ErrTokenExpired):
		return ReasonExpired
	}
	// A genuine token with impossible claims (no exp). The iat is not checked against
	// now: API instances' clocks differ by a little, and only exp matters.
	return ReasonMalformed
}
