package admittoken

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// wire is the JWT payload: the registered claims (iss, sub = customer, jti = queue
// id, iat, exp) and two of ours.
type wire struct {
	jwt.RegisteredClaims
	EventID   string `json:"event_id"`
	Allowance int64  `json:"allowance"`
}

func wireOf(c Claims) wire {
	return wire{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   c.CustomerID,
			ID:        c.QueueID.String(),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
		},
		EventID:   c.EventID.String(),
		Allowance: c.Allowance,
	}
}

// claims reads the payload of a token whose signature was verified.
func (w wire) claims() (Claims, error) {
	event, err := uuid.Parse(w.EventID)
	if err != nil {
		return Claims{}, fmt.Errorf("event_id: %w", err)
	}
	queue, err := uuid.Parse(w.ID)
	if err != nil {
		return Claims{}, fmt.Errorf("jti: %w", err)
	}
	if w.IssuedAt == nil || w.ExpiresAt == nil {
		return Claims{}, errors.New("no iat or exp")
	}
	c := Claims{EventID: event, QueueID: queue, CustomerID: w.Subject, Allowance: w.Allowance,
		IssuedAt: w.IssuedAt.UTC(), ExpiresAt: w.ExpiresAt.UTC()}
	return c, c.validate()
}
