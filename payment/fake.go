package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
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
	// refundFails is how many refund calls fail next, as an unreachable provider.
	refundFails int
}

// ErrUnreachable is the Fake's retryable failure (FailRefunds).
var ErrUnreachable = errors.New("payment: fake: provider unreachable")

// FailRefunds makes the next n refund calls fail with ErrUnreachable, before they
// reach the provider.
func (f *Fake) FailRefunds(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refundFails = n
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
	if f.refundFails > 0 {
		f.refundFails--
		return RefundResult{}, ErrUnreachable
	}
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

// FakeRefunds is an in-memory refund outbox for tests; Finish plays the sink.
type FakeRefunds struct {
	mu   sync.Mutex
	rows []*OrderRefund
}

// NewFakeRefunds returns an empty outbox.
func NewFakeRefunds() *FakeRefunds { return &FakeRefunds{} }

func (f *FakeRefunds) find(match func(*OrderRefund) bool) *OrderRefund {
	for _, r := range f.rows {
		if match(r) {
			return r
		}
	}
	return nil
}

// Record implements Refunds.
func (f *FakeRefunds) Record(_ context.Context, r OrderRefund, now time.Time) (OrderRefund, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.find(func(o *OrderRefund) bool { return o.OrderID == r.OrderID && o.Key == r.Key }); old != nil {
		old.UpdatedAt = now
		return *old, nil
	}
	r.Status, r.RefundID, r.Reason, r.Attempts, r.CreatedAt, r.UpdatedAt = RefundRequested, "", "", 0, now, now
	f.rows = append(f.rows, &r)
	return r, nil
}

// Find implements Refunds.
func (f *FakeRefunds) Find(_ context.Context, order uuid.UUID, key string) (OrderRefund, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.find(func(o *OrderRefund) bool { return o.OrderID == order && o.Key == key }); r != nil {
		return *r, nil
	}
	return OrderRefund{}, ErrRefundNotFound
}

// MarkRefunded implements Refunds.
func (f *FakeRefunds) MarkRefunded(_ context.Context, id uuid.UUID, refundID string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.find(func(o *OrderRefund) bool { return o.RequestID == id }); r != nil &&
		(r.Status == RefundRequested || r.Status == RefundFailed) {
		r.Status, r.RefundID, r.Reason, r.UpdatedAt = RefundRefunded, refundID, "", now
	}
	return nil
}

// MarkFailed implements Refunds.
func (f *FakeRefunds) MarkFailed(_ context.Context, id uuid.UUID, reason string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.find(func(o *OrderRefund) bool { return o.RequestID == id }); r != nil && r.Status == RefundRequested {
		r.Status, r.Reason, r.UpdatedAt = RefundFailed, reason, now
	}
	return nil
}

// Claim implements Refunds.
func (f *FakeRefunds) Claim(_ context.Context, staleBefore, createdAfter time.Time, n int, now time.Time) ([]OrderRefund, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []OrderRefund
	for _, r := range f.rows {
		if len(out) < n && (r.Status == RefundRequested || r.Status == RefundRefunded) &&
			r.UpdatedAt.Before(staleBefore) && r.CreatedAt.After(createdAfter) {
			r.UpdatedAt = now
			r.Attempts++
			out = append(out, *r)
		}
	}
	return out, nil
}

// Unrestocked implements Refunds (the Fake has no resolved refunds).
func (f *FakeRefunds) Unrestocked(_ context.Context, staleBefore time.Time) (map[RefundStatus]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[RefundStatus]int{}
	for _, s := range UnrestockedStatuses {
		out[s] = 0
	}
	for _, r := range f.rows {
		if r.Status == RefundRestockRefused || (r.Status == RefundRequested || r.Status == RefundRefunded) && r.CreatedAt.Before(staleBefore) {
			out[r.Status]++
		}
	}
	return out, nil
}

// Finish plays the sink applying the writer's answer to a refund's command:
// restocked, or refused with the reason.
func (f *FakeRefunds) Finish(id uuid.UUID, status RefundStatus, reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.find(func(o *OrderRefund) bool { return o.RequestID == id }); r != nil &&
		(r.Status == RefundRequested || r.Status == RefundRefunded) {
		r.Status, r.Reason = status, reason
	}
}

// Get returns the refund with the request id (zero when none).
func (f *FakeRefunds) Get(id uuid.UUID) OrderRefund {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.find(func(o *OrderRefund) bool { return o.RequestID == id }); r != nil {
		return *r
	}
	return OrderRefund{}
}
