package payment

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stripe/stripe-go/v82"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func TestClassify(t *testing.T) {
	// Proves Stripe's 400, 402 and 404 are refusals a retry cannot change, and 409, 429 and 5xx stay retryable.
	for code, refused := range map[int]bool{400: true, 402: true, 404: true, 409: false, 429: false, 500: false} {
		err := classify(&stripe.Error{HTTPStatusCode: code, Msg: http.StatusText(code)})
		if errors.Is(err, ErrRefused) != refused {
			t.Errorf("HTTP %d: refused %v, want %v", code, !refused, refused)
		}
	}
}

func TestConsumerMovesOnAfterRefusal(t *testing.T) {
	// Proves the consumer does not retry a refusal for ever: a refund the provider refuses is counted and left to reconciliation, and a refund it accepts is done once.
	fake := NewFake()
	c, err := NewConsumer(ConsumerConfig{Brokers: []string{"unused:9092"}, EventsTopic: "events"}, NewWorker(fake), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	record := func(intent string) *kgo.Record {
		e := topics.Outcome{Type: topics.OutPaymentRefundRequired, Payment: &topics.Payment{IntentID: intent, Amount: 100, Currency: "eur"},
			Rejection: &topics.Rejection{Reason: topics.ReasonHoldExpired}}
		m, err := topics.EncodeOutcome(&e, topics.OutcomeRecordID(&e))
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Value: m.Value}
	}
	c.handle(context.Background(), record("pi_unknown"))
	if n := counterValue(t, c.actions.WithLabelValues(string(ActionRefused))); n != 1 {
		t.Fatalf("refused %v, want 1", n)
	}
	in, _ := fake.CreateIntent(context.Background(), IntentRequest{Amount: 100, Currency: "eur", IdempotencyKey: "i"})
	fake.Succeed(in.ID)
	c.handle(context.Background(), record(in.ID))
	c.handle(context.Background(), record(in.ID))
	if fake.Refunded(in.ID) != 100 || counterValue(t, c.actions.WithLabelValues(string(ActionRefunded))) != 2 {
		t.Fatalf("refunded %d", fake.Refunded(in.ID))
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
