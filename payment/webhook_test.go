package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

const testSecret = "whsec_test_secret"

// writer stands for the pipeline: it applies every published command to a real
// zone state machine, as the processor does, and hands the outcomes to the
// payments worker.
type writer struct {
	t        *testing.T
	s        *zone.State
	now      time.Time
	outcomes []topics.Outcome
	fail     error // the next Publish fails with it (the broker is down)
	worker   *Worker
	actions  []Action
}

func (w *writer) Publish(ctx context.Context, cmd *topics.Command) error {
	if err := w.fail; err != nil {
		w.fail = nil
		return err
	}
	if err := cmd.Check(); err != nil {
		w.t.Fatalf("published an invalid command: %v", err)
	}
	w.apply(cmd)
	return nil
}

func (w *writer) apply(cmd *topics.Command) topics.Outcome {
	w.t.Helper()
	evs := w.s.Apply(nil, cmd, w.now)
	w.act(evs)
	if err := w.s.Check(); err != nil {
		w.t.Fatal(err)
	}
	return evs[len(evs)-1]
}

func (w *writer) act(evs []topics.Outcome) {
	for i := range evs {
		w.outcomes = append(w.outcomes, evs[i])
		a, err := w.worker.Handle(context.Background(), &evs[i])
		if err != nil {
			w.t.Fatal(err)
		}
		if a != ActionNone {
			w.actions = append(w.actions, a)
		}
	}
}

func (w *writer) last() topics.Outcome { return w.outcomes[len(w.outcomes)-1] }

type fixture struct {
	t       *testing.T
	fake    *Fake
	w       *writer
	hook    *Webhook
	show    uuid.UUID
	zone    uuid.UUID
	evCount int
}

const price = 4000

func newFixture(t *testing.T, policy FailurePolicy) *fixture {
	fake := NewFake()
	w := &writer{t: t, s: zone.NewState(zone.DefaultConfig()), now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), worker: NewWorker(fake)}
	hook, err := NewWebhook(WebhookConfig{Secret: testSecret, OnFailure: policy}, w)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, fake: fake, w: w, hook: hook, show: uuid.New(), zone: uuid.New()}
	f.command(topics.CmdConfigureZone, "", func(c *topics.Command) {
		capacity, ttl, pr := int64(10), int64(60), int64(price)
		c.Configure = &topics.ConfigureZone{EventName: "Show", ZoneName: "Floor", Capacity: &capacity,
			HoldTTLSeconds: &ttl, PriceMinor: &pr, Currency: "eur"}
	})
	return f
}

func (f *fixture) command(typ topics.CommandType, key string, set func(*topics.Command)) topics.Outcome {
	c := &topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: uuid.New(), EventID: f.show,
		ZoneID: f.zone, IdempotencyKey: key, SubmittedAt: f.w.now}
	set(c)
	return f.w.apply(c)
}

// holdWithIntent places a hold of qty and starts its payment as the API does.
func (f *fixture) holdWithIntent(qty int64) (uuid.UUID, Intent) {
	f.t.Helper()
	hold := f.command(topics.CmdPlaceHold, "", func(c *topics.Command) { c.Place = &topics.PlaceHold{Quantity: qty} }).Hold.ID
	in, err := f.fake.CreateIntent(context.Background(), IntentRequest{Amount: qty * price, Currency: "eur",
		IdempotencyKey: IntentKey(hold.String()),
		Metadata:       map[string]string{MetaHoldID: hold.String(), MetaZoneID: f.zone.String(), MetaEventID: f.show.String()}})
	if err != nil {
		f.t.Fatal(err)
	}
	ev := f.command(topics.CmdStartPayment, "start-"+hold.String(), func(c *topics.Command) {
		c.StartPayment = &topics.StartPayment{HoldID: hold, Payment: topics.Payment{IntentID: in.ID, Amount: in.Amount, Currency: "eur"}}
	})
	if ev.Type != topics.OutHoldPaymentStarted {
		f.t.Fatalf("start payment: %s %+v", ev.Type, ev.Rejection)
	}
	return hold, in
}

// event builds a Stripe event body for an intent.
func (f *fixture) event(typ stripe.EventType, in Intent) (id string, body []byte) {
	f.evCount++
	id = fmt.Sprintf("evt_%d", f.evCount)
	pi := map[string]any{"id": in.ID, "object": "payment_intent", "amount": in.Amount, "currency": in.Currency,
		"status": map[stripe.EventType]string{stripe.EventTypePaymentIntentSucceeded: "succeeded"}[typ], "metadata": in.Metadata}
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "data": map[string]any{"object": pi}})
	if err != nil {
		f.t.Fatal(err)
	}
	return id, b
}

func sign(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func (f *fixture) deliver(body []byte) (Result, error) {
	return f.hook.Handle(context.Background(), body, sign(body, testSecret, time.Now()))
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var we *WebhookError
	if !errors.As(err, &we) || we.Code != code {
		t.Fatalf("error %v, want webhook error %s", err, code)
	}
}

func (f *fixture) inventory() topics.Inventory {
	f.t.Helper()
	for i := len(f.w.outcomes) - 1; i >= 0; i-- {
		if f.w.outcomes[i].ZoneID == f.zone && f.w.outcomes[i].Zone.Capacity > 0 {
			return f.w.outcomes[i].Zone
		}
	}
	f.t.Fatal("no inventory")
	return topics.Inventory{}
}

func TestWebhookRefusesUnverified(t *testing.T) {
	// Proves unsigned, forged and stale deliveries are refused with their codes and publish nothing.
	f := newFixture(t, FailureExpire)
	_, in := f.holdWithIntent(1)
	_, body := f.event(stripe.EventTypePaymentIntentSucceeded, in)
	before := len(f.w.outcomes)
	_, err := f.hook.Handle(context.Background(), body, "")
	wantCode(t, err, CodeSignatureMissing)
	_, err = f.hook.Handle(context.Background(), body, sign(body, "whsec_forged", time.Now()))
	wantCode(t, err, CodeSignatureInvalid)
	_, err = f.hook.Handle(context.Background(), body, "garbage")
	wantCode(t, err, CodeSignatureInvalid)
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-2] = ' '
	_, err = f.hook.Handle(context.Background(), tampered, sign(body, testSecret, time.Now()))
	wantCode(t, err, CodeSignatureInvalid)
	_, err = f.hook.Handle(context.Background(), body, sign(body, testSecret, time.Now().Add(-10*time.Minute)))
	wantCode(t, err, CodeSignatureStale)
	if len(f.w.outcomes) != before {
		t.Fatalf("refused deliveries published %d commands", len(f.w.outcomes)-before)
	}
}

func TestWebhookSucceededDuplicatedReplayed(t *testing.T) {
	// Proves a succeeded payment becomes one order, and a replayed event id or a second event for the same intent has no further effect.
	f := newFixture(t, FailureExpire)
	hold, in := f.holdWithIntent(2)
	id, body := f.event(stripe.EventTypePaymentIntentSucceeded, in)
	res, err := f.deliver(body)
	if err != nil || res.Outcome != Published || res.EventID != id {
		t.Fatalf("deliver: %+v %v", res, err)
	}
	got := f.w.last()
	if got.Type != topics.OutHoldConfirmed || got.Hold.ID != hold || got.Order.ID != RequestIDOf("succeeded", in.ID) ||
		got.Payment.IntentID != in.ID {
		t.Fatalf("outcome %s %+v", got.Type, got)
	}
	if res, err := f.deliver(body); err != nil || res.Outcome != Replayed {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	_, again := f.event(stripe.EventTypePaymentIntentSucceeded, in) // another event id, same intent
	if res, err := f.deliver(again); err != nil || res.Outcome != Published {
		t.Fatalf("duplicate: %+v %v", res, err)
	}
	if last := f.w.last(); last.Type != topics.OutRequestReplayed || last.Replay.OrderID != got.Order.ID {
		t.Fatalf("duplicate answered %s", last.Type)
	}
	if inv := f.inventory(); inv.Sold != 2 || inv.Held != 0 {
		t.Fatalf("inventory %+v", inv)
	}
}

func TestWebhookFailed(t *testing.T) {
	// Proves payment_failed releases the hold under FailureRelease, is ignored under FailureExpire, and a failure after success changes nothing.
	f := newFixture(t, FailureRelease)
	_, in := f.holdWithIntent(2)
	_, body := f.event(stripe.EventTypePaymentIntentPaymentFailed, in)
	if res, err := f.deliver(body); err != nil || res.Outcome != Published || f.w.last().Type != topics.OutHoldReleased {
		t.Fatalf("failed under release: %+v %v %s", res, err, f.w.last().Type)
	}
	if inv := f.inventory(); inv.Available != 10 {
		t.Fatalf("inventory after release %+v", inv)
	}

	_, paid := f.holdWithIntent(1)
	_, ok := f.event(stripe.EventTypePaymentIntentSucceeded, paid)
	_, late := f.event(stripe.EventTypePaymentIntentPaymentFailed, paid)
	if _, err := f.deliver(ok); err != nil {
		t.Fatal(err)
	}
	if _, err := f.deliver(late); err != nil {
		t.Fatal(err)
	}
	last := f.w.last()
	if last.Type != topics.OutRequestRejected || last.Rejection.Reason != topics.ReasonHoldAlreadyConfirmed {
		t.Fatalf("failed after succeeded: %s %+v", last.Type, last.Rejection)
	}
	if inv := f.inventory(); inv.Sold != 1 || inv.Available != 9 {
		t.Fatalf("inventory after out-of-order failure %+v", inv)
	}

	e := newFixture(t, FailureExpire)
	_, in2 := e.holdWithIntent(1)
	_, body2 := e.event(stripe.EventTypePaymentIntentPaymentFailed, in2)
	if res, err := e.deliver(body2); err != nil || res.Outcome != Ignored {
		t.Fatalf("failed under expire: %+v %v", res, err)
	}
}

func TestWebhookSucceededAfterReleaseRefunds(t *testing.T) {
	// Proves a success delivered after a failure released the hold (out of order) is refunded, not sold.
	f := newFixture(t, FailureRelease)
	_, in := f.holdWithIntent(1)
	f.fake.Succeed(in.ID)
	_, failed := f.event(stripe.EventTypePaymentIntentPaymentFailed, in)
	_, ok := f.event(stripe.EventTypePaymentIntentSucceeded, in)
	f.deliver(failed)
	f.deliver(ok)
	if last := f.w.last(); last.Type != topics.OutPaymentRefundRequired || last.Rejection.Reason != topics.ReasonHoldAlreadyReleased {
		t.Fatalf("succeeded after release: %s", last.Type)
	}
	if f.fake.Refunded(in.ID) != price {
		t.Fatalf("refunded %d, want %d", f.fake.Refunded(in.ID), price)
	}
}

func TestWebhookLateRefundsOnce(t *testing.T) {
	// Proves a payment that succeeds after its hold expired is refunded at the provider once, whatever the redeliveries, and the expiry cancelled the intent first.
	f := newFixture(t, FailureExpire)
	_, in := f.holdWithIntent(2)
	f.w.now = f.w.now.Add(time.Hour)
	f.w.act(f.w.s.Advance(nil, f.w.now))
	if f.w.last().Type != topics.OutHoldExpired || f.fake.Cancels() != 1 {
		t.Fatalf("expiry: %s, %d cancels", f.w.last().Type, f.fake.Cancels())
	}
	// The buyer's card went through before the cancel reached the provider.
	f.fake.intents[in.ID].Status = "succeeded"
	_, body := f.event(stripe.EventTypePaymentIntentSucceeded, in)
	if _, err := f.deliver(body); err != nil {
		t.Fatal(err)
	}
	last := f.w.last()
	if last.Type != topics.OutPaymentRefundRequired || last.Rejection.Reason != topics.ReasonHoldExpired {
		t.Fatalf("late: %s %+v", last.Type, last.Rejection)
	}
	_, dup := f.event(stripe.EventTypePaymentIntentSucceeded, in)
	f.deliver(dup)
	// The worker sees the same outcome again (redelivered from Kafka).
	f.w.act([]topics.Outcome{last})
	if got := f.fake.Refunded(in.ID); got != 2*price {
		t.Fatalf("refunded %d, want %d once", got, 2*price)
	}
	if inv := f.inventory(); inv.Sold != 0 || inv.Available != 10 {
		t.Fatalf("inventory %+v", inv)
	}
}

func TestWebhookPublishFailureLosesNothing(t *testing.T) {
	// Proves a delivery whose command could not be published is answered with a retryable error, not remembered, and the provider's redelivery confirms.
	f := newFixture(t, FailureExpire)
	_, in := f.holdWithIntent(1)
	_, body := f.event(stripe.EventTypePaymentIntentSucceeded, in)
	f.w.fail = errors.New("broker down")
	_, err := f.deliver(body)
	var we *WebhookError
	if err == nil || errors.As(err, &we) {
		t.Fatalf("publish failure answered %v, want a retryable error", err)
	}
	if res, err := f.deliver(body); err != nil || res.Outcome != Published || f.w.last().Type != topics.OutHoldConfirmed {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
}

func TestWebhookIgnoresForeignEvents(t *testing.T) {
	// Proves events of other types, and intents without our metadata, are accepted and ignored.
	f := newFixture(t, FailureRelease)
	_, body := f.event(stripe.EventTypePaymentIntentSucceeded, Intent{ID: "pi_other", Amount: 5, Currency: "eur"})
	if res, err := f.deliver(body); err != nil || res.Outcome != Ignored {
		t.Fatalf("foreign intent: %+v %v", res, err)
	}
	_, body = f.event(stripe.EventTypeChargeSucceeded, Intent{ID: "ch_1"})
	if res, err := f.deliver(body); err != nil || res.Outcome != Ignored {
		t.Fatalf("other type: %+v %v", res, err)
	}
}

func TestWebhookConfigValidate(t *testing.T) {
	// Proves the webhook config rejects a missing secret, an unknown policy and a tolerance out of bounds.
	for _, c := range []WebhookConfig{{}, {Secret: "s", OnFailure: "drop"}, {Secret: "s", Tolerance: 2 * time.Hour}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

func TestSeenSetBounded(t *testing.T) {
	// Proves the seen-event set forgets the oldest ids beyond its bound.
	s := newSeenSet(2)
	s.add("a")
	s.add("b")
	s.add("c")
	if s.has("a") || !s.has("b") || !s.has("c") || len(s.ids) != 2 {
		t.Fatalf("seen %v", s.ids)
	}
}
