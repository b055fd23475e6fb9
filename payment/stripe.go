package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// Stripe is the Provider backed by Stripe's API (or stripe-mock, with URL set).
type Stripe struct {
	client *stripe.Client
}

// StripeConfig configures the Stripe adapter.
type StripeConfig struct {
	// SecretKey is the API key (sk_test_... / sk_live_...). Required.
	SecretKey string
	// URL overrides the API base URL, for stripe-mock; empty = Stripe's.
	URL string
	// MaxNetworkRetries bounds stripe-go's retries of a failed request (they reuse
	// the idempotency key). Default 2.
	MaxNetworkRetries int64
}

// NewStripe returns the Stripe adapter.
func NewStripe(cfg StripeConfig) (*Stripe, error) {
	if cfg.SecretKey == "" {
		return nil, errors.New("payment: stripe secret key is required")
	}
	retries := cfg.MaxNetworkRetries
	if retries == 0 {
		retries = 2
	}
	bc := &stripe.BackendConfig{MaxNetworkRetries: stripe.Int64(retries), LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelError}}
	if cfg.URL != "" {
		bc.URL = stripe.String(cfg.URL)
	}
	c := stripe.NewClient(cfg.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))
	return &Stripe{client: c}, nil
}

// CreateIntent implements Provider.
func (s *Stripe) CreateIntent(ctx context.Context, req IntentRequest) (Intent, error) {
	p := &stripe.PaymentIntentCreateParams{
		Amount:   stripe.Int64(req.Amount),
		Currency: stripe.String(req.Currency),
		AutomaticPaymentMethods: &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{
			Enabled: stripe.Bool(true),
		},
	}
	for k, v := range req.Metadata {
		p.AddMetadata(k, v)
	}
	p.SetIdempotencyKey(req.IdempotencyKey)
	pi, err := s.client.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return Intent{}, fmt.Errorf("payment: stripe create intent: %w", err)
	}
	return intentOf(pi), nil
}

// CancelIntent implements Provider.
func (s *Stripe) CancelIntent(ctx context.Context, intentID, idempotencyKey string) error {
	p := &stripe.PaymentIntentCancelParams{}
	p.SetIdempotencyKey(idempotencyKey)
	_, err := s.client.V1PaymentIntents.Cancel(ctx, intentID, p)
	var se *stripe.Error
	if errors.As(err, &se) && se.Code == stripe.ErrorCodePaymentIntentUnexpectedState && se.PaymentIntent != nil {
		switch se.PaymentIntent.Status {
		case stripe.PaymentIntentStatusCanceled:
			return nil
		case stripe.PaymentIntentStatusSucceeded:
			return ErrIntentSucceeded
		}
	}
	if err != nil {
		return fmt.Errorf("payment: stripe cancel intent %s: %w", intentID, classify(err))
	}
	return nil
}

// classify marks Stripe's refusals that a retry cannot change (400, 402, 404) as
// ErrRefused; network errors, 409 (a concurrent request with the same key), 429 and
// 5xx stay retryable.
func classify(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		switch se.HTTPStatusCode {
		case 400, 402, 404:
			return fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	return err
}

// Refund implements Provider.
func (s *Stripe) Refund(ctx context.Context, req RefundRequest) (RefundResult, error) {
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(req.IntentID), Amount: stripe.Int64(req.Amount)}
	if req.Reason != "" {
		p.AddMetadata("reason", req.Reason)
	}
	p.SetIdempotencyKey(req.IdempotencyKey)
	r, err := s.client.V1Refunds.Create(ctx, p)
	if err != nil {
		return RefundResult{}, fmt.Errorf("payment: stripe refund %s: %w", req.IntentID, classify(err))
	}
	return RefundResult{ID: r.ID, Amount: r.Amount, Status: string(r.Status)}, nil
}

// SucceededIntents implements Provider.
func (s *Stripe) SucceededIntents(ctx context.Context, from, to time.Time, limit int) ([]Intent, error) {
	p := &stripe.PaymentIntentListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThanOrEqual: from.Unix(), LesserThan: to.Unix(),
	}}
	p.Limit = stripe.Int64(100)
	var out []Intent
	for pi, err := range s.client.V1PaymentIntents.List(ctx, p) {
		if err != nil {
			return nil, fmt.Errorf("payment: stripe list intents: %w", err)
		}
		if pi.Status != stripe.PaymentIntentStatusSucceeded {
			continue
		}
		if len(out) >= limit {
			return out, fmt.Errorf("payment: more than %d succeeded intents in [%v, %v)", limit, from, to)
		}
		out = append(out, intentOf(pi))
	}
	return out, nil
}

func intentOf(pi *stripe.PaymentIntent) Intent {
	return Intent{
		ID: pi.ID, Amount: pi.Amount, Currency: string(pi.Currency), Status: string(pi.Status),
		ClientSecret: pi.ClientSecret, Created: time.Unix(pi.Created, 0).UTC(), Metadata: pi.Metadata,
	}
}
