package admittoken

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Issuer is the iss claim of every admission token.
const Issuer = "ultimate-ticket"

// Limits on what a token may carry, so that a token stays small enough for a header.
const (
	// CustomerIDBytesMax bounds the customer id (the sub claim), in bytes.
	CustomerIDBytesMax = 200
	// AllowanceMax bounds the tickets one admission allows.
	AllowanceMax = 1_000_000
	// LifetimeMax bounds exp − iat.
	LifetimeMax = 24 * time.Hour
	// TokenBytesMax bounds the token a Verifier parses; longer ones are malformed.
	TokenBytesMax = 4 << 10
)

// Claims are what an admission token says.
type Claims struct {
	// EventID is the event the buyer was admitted to.
	EventID uuid.UUID
	// QueueID is the buyer's queue entry; it is also the token's jti.
	QueueID uuid.UUID
	// CustomerID is the admitted buyer (the sub claim).
	CustomerID string
	// Allowance is the number of tickets the admission allows.
	Allowance int64
	// IssuedAt and ExpiresAt bound the token's life; the JWT keeps whole seconds.
	IssuedAt, ExpiresAt time.Time
}

// validate rejects claims no admission could have.
func (c Claims) validate() error {
	switch {
	case c.EventID == uuid.Nil:
		return errors.New("no event id")
	case c.QueueID == uuid.Nil:
		return errors.New("no queue id")
	case c.CustomerID == "":
		return errors.New("no customer id")
	case len(c.CustomerID) > CustomerIDBytesMax:
		return fmt.Errorf("customer id of %d bytes, at most %d", len(c.CustomerID), CustomerIDBytesMax)
	case c.Allowance < 1 || c.Allowance > AllowanceMax:
		return fmt.Errorf("allowance %d outside 1..%d", c.Allowance, AllowanceMax)
	case !c.ExpiresAt.After(c.IssuedAt):
		return fmt.Errorf("expiry %v not after issue %v", c.ExpiresAt, c.IssuedAt)
	case c.ExpiresAt.Sub(c.IssuedAt) > LifetimeMax:
		return fmt.Errorf("lifetime %v over %v", c.ExpiresAt.Sub(c.IssuedAt), LifetimeMax)
	}
	return nil
}
