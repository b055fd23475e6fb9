package payment

import (
	"context"
	"errors"
	"time"
)

// Provider is a payment provider. Every call that moves money carries an
// idempotency key, so a retry after a timeout never charges, cancels or refunds
// twice.
type Provider interface {
	// CreateIntent creates a payment intent for the buyer's browser to confirm.
	CreateIntent(ctx context.Context, req IntentRequest) (Intent, error)
	// CancelIntent cancels an intent not yet paid. Cancelling one already
	// cancelled succeeds; one that succeeded is ErrIntentSucceeded.
	CancelIntent(ctx context.Context, intentID, idempotencyKey string) error
	// Refund refunds amount (minor units) of a succeeded intent.
	Refund(ctx context.Context, req RefundRequest) (RefundResult, error)
	// SucceededIntents lists the succeeded intents created in [from, to), at most
	// limit of them.
	SucceededIntents(ctx context.Context, from, to time.Time, limit int) ([]Intent, error)
}

// ErrIntentSucceeded: an intent cannot be cancelled because it was paid; the
// webhook's confirm decides what happens to the money.
var ErrIntentSucceeded = errors.New("payment: intent already succeeded")

// ErrRefused wraps a provider's refusal that a retry cannot change (an invalid
// request, an unknown intent, an amount over what is left): the worker records it
// and moves on, and reconciliation reports the refund still owed.
var ErrRefused = errors.New("payment: refused by the provider")

// IntentRequest asks for a payment intent of Amount minor units of Currency.
type IntentRequest struct {
	Amount         int64
	Currency       string
	IdempotencyKey string
	// Metadata travels with the intent and comes back in its webhooks: hold_id,
	// zone_id and event_id say which command a payment becomes.
	Metadata map[string]string
}

// Intent is a payment intent as the provider reports it.
type Intent struct {
	ID           string
	Amount       int64
	Currency     string
	Status       string
	ClientSecret string
	Created      time.Time
	Metadata     map[string]string
}

// RefundRequest refunds Amount minor units of IntentID.
type RefundRequest struct {
	IntentID       string
	Amount         int64
	IdempotencyKey string
	Reason         string
}

// RefundResult is a refund the provider made.
type RefundResult struct {
	ID     string
	Amount int64
	Status string
}

// Metadata keys of an intent.
const (
	MetaHoldID  = "hold_id"
	MetaZoneID  = "zone_id"
	MetaEventID = "event_id"
)

// Idempotency keys at the provider, derived from what they protect so that every
// retry of the same step sends the same key.

// IntentKey keys the creation of a hold's payment intent: one intent per hold.
func IntentKey(holdID string) string { return "ut-intent-" + holdID }

// CancelKey keys the cancellation of an intent.
func CancelKey(intentID string) string { return "ut-cancel-" + intentID }

// RefundKey keys the refund of a payment that bought nothing (late, or not the hold's).
func RefundKey(intentID string) string { return "ut-refund-" + intentID }

// OrderRefundKey keys an admin's refund of an order; ref is the order id and the
// admin's Idempotency-Key.
func OrderRefundKey(ref string) string { return "ut-order-refund-" + ref }
