package payment_test

import (
	"context"
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/internal/stripemock"
	"github.com/ultimate-ticket/ultimate-ticket/payment"
)

// stripeOnMock is the Stripe adapter against a fresh stripe-mock.
func stripeOnMock(t *testing.T) *payment.Stripe {
	t.Helper()
	m := stripemock.ForTest(t)
	s, err := payment.NewStripe(payment.StripeConfig{SecretKey: stripemock.SecretKey, URL: m.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStripeAdapterOnStripeMock(t *testing.T) {
	// Proves the Stripe adapter's calls are valid Stripe requests: stripe-mock accepts an intent with amount, currency, metadata and idempotency key (and reflects amount and currency), a refund, a cancellation and a list by creation range.
	s := stripeOnMock(t)
	ctx := context.Background()
	in, err := s.CreateIntent(ctx, payment.IntentRequest{Amount: 5000, Currency: "eur", IdempotencyKey: payment.IntentKey("h1"),
		Metadata: map[string]string{payment.MetaHoldID: "h1", payment.MetaZoneID: "z", payment.MetaEventID: "e"}})
	if err != nil {
		t.Fatal(err)
	}
	if in.ID == "" || in.ClientSecret == "" || in.Amount != 5000 || in.Currency != "eur" {
		t.Fatalf("intent %+v", in)
	}
	r, err := s.Refund(ctx, payment.RefundRequest{IntentID: in.ID, Amount: 2500, IdempotencyKey: payment.RefundKey(in.ID)})
	if err != nil || r.ID == "" || r.Amount != 2500 {
		t.Fatalf("refund %+v %v", r, err)
	}
	if err := s.CancelIntent(ctx, in.ID, payment.CancelKey(in.ID)); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	// stripe-mock's list answers a fixture that is not succeeded: none are listed.
	got, err := s.SucceededIntents(ctx, time.Now().Add(-time.Hour), time.Now(), 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("succeeded intents %+v %v", got, err)
	}
}
