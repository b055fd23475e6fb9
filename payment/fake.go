package payment

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Fake is an in-memory Provider for tests. It honours idempotency keys like a real
// provider (the same key answers the same result) and counts what moved money.
type Fake struct {
	mu      sync.Mutex
	n       int
	intents map[string]*Intent
	byKey   map[string]any
	refunds map[string]int64 // intent -> refunded amount
	cancels int
}

// NewFake returns an empty Fake.
func NewFake() *Fake {
	return &Fake{intents: map[string]*Intent{}, byKey: map[string]any{}, refunds: map[string]int64{}}
}

// CreateIntent implements Provider.
func (f *Fake) CreateIntent(_ context.Context, req IntentRequest) (Intent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.byKey[req.IdempotencyKey]; ok {
		return *v.(*Intent), nil
	}
	f.n++
	id := fmt.Sprintf("pi_fake%d", f.n)
	in := &Intent{ID: id, Amount: req.Amount, Currency: req.Currency, Status: "requires_payment_method",
		ClientSecret: id + "_secret", Created: time.Now().UTC(), Metadata: req.Metadata}
	f.intents[id], f.byKey[req.IdempotencyKey] = in, in
	return *in, nil
}

// Succeed marks an intent paid, as the buyer's browser would.
func (f *Fake) Succeed(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intents[id].Status = "succeeded"
}

// CancelIntent implements Provider.
func (f *Fake) CancelIntent(_ context.Context, id, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	in := f.intents[id]
	switch {
	case in == nil:
		return fmt.Errorf("%w: fake: no intent %s", ErrRefused, id)
	case in.Status == "succeeded":
		return ErrIntentSucceeded
	case in.Status != "canceled":
		in.Status = "canceled"
		f.cancels++
	}
	return nil
}

// Refund implements Provider.
func (f *Fake) Refund(_ context.Context, req RefundRequest) (RefundResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.byKey[req.IdempotencyKey]; ok {
		return v.(RefundResult), nil
	}
	in := f.intents[req.IntentID]
	if in == nil || in.Status != "succeeded" || f.refunds[req.IntentID]+req.Amount > in.Amount {
		return RefundResult{}, fmt.Errorf("%w: fake: cannot refund %d of %s", ErrRefused, req.Amount, req.IntentID)
	}
	f.n++
	f.refunds[req.IntentID] += req.Amount
	r := RefundResult{ID: fmt.Sprintf("re_fake%d", f.n), Amount: req.Amount, Status: "succeeded"}
	f.byKey[req.IdempotencyKey] = r
	return r, nil
}

// SucceededIntents implements Provider.
func (f *Fake) SucceededIntents(_ context.Context, from, to time.Time, limit int) ([]Intent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Intent
	for _, in := range f.intents {
		if in.Status == "succeeded" && !in.Created.Before(from) && in.Created.Before(to) {
			if len(out) >= limit {
				return out, fmt.Errorf("payment: fake: more than %d intents", limit)
			}
			out = append(out, *in)
		}
	}
	return out, nil
}

// Refunded returns the amount refunded of an intent.
func (f *Fake) Refunded(id string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refunds[id]
}

// Cancels returns how many intents were cancelled.
func (f *Fake) Cancels() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cancels
}
