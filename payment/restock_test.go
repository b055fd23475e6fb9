package payment

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// fakePublisher records what is published; while fail is set, it publishes nothing.
type fakePublisher struct {
	mu   sync.Mutex
	cmds []*topics.Command
	fail bool
}

func (p *fakePublisher) Publish(_ context.Context, cmd *topics.Command) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("kafka unreachable")
	}
	p.cmds = append(p.cmds, cmd)
	return nil
}

func (p *fakePublisher) published() []*topics.Command {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*topics.Command(nil), p.cmds...)
}

// restockFixture is a Restocker over the Fake provider and outbox, on a clock the
// test moves, with a paid intent of 300.
type restockFixture struct {
	t       *testing.T
	fake    *Fake
	refunds *FakeRefunds
	pub     *fakePublisher
	r       *Restocker
	now     time.Time
	intent  string
}

const testGrace = time.Minute

func newRestockFixture(t *testing.T) *restockFixture {
	f := &restockFixture{t: t, fake: NewFake(), refunds: NewFakeRefunds(), pub: &fakePublisher{},
		now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	r, err := NewRestocker(RestockConfig{Grace: testGrace, Logger: slog.New(slog.DiscardHandler)}, f.fake, f.refunds, f.pub, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r.now = func() time.Time { return f.now }
	f.r = r
	in, _ := f.fake.CreateIntent(context.Background(), IntentRequest{Amount: 300, Currency: "eur", IdempotencyKey: "paid"})
	f.fake.Succeed(in.ID)
	f.intent = in.ID
	return f
}

// record writes a refund of qty tickets (100 each) as the API does before asking
// the provider.
func (f *restockFixture) record(key string, qty int64) OrderRefund {
	f.t.Helper()
	rec, err := f.refunds.Record(context.Background(), OrderRefund{RequestID: uuid.New(), OrderID: uuid.New(), Key: key,
		EventID: uuid.New(), ZoneID: uuid.New(), HoldID: uuid.New(), CustomerID: "c1", IntentID: f.intent,
		Quantity: qty, Amount: qty * 100}, f.now)
	if err != nil {
		f.t.Fatal(err)
	}
	return rec
}

func (f *restockFixture) sweep(after time.Duration) {
	f.t.Helper()
	f.now = f.now.Add(after)
	if err := f.r.Sweep(context.Background()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *restockFixture) gauge(s RefundStatus) float64 {
	f.t.Helper()
	var m dto.Metric
	if err := f.r.unrestocked.WithLabelValues(string(s)).Write(&m); err != nil {
		f.t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

func TestRestockRepublishesRefundedRefund(t *testing.T) {
	// Proves a refund refunded at the provider whose order.refund was never published (Kafka down, a crash) is published again by the worker after the grace period, as the same command (request id, idempotency key, refund id), until the sink has the writer's answer; then never again.
	f := newRestockFixture(t)
	rec := f.record("admin-1", 2)
	ref, err := f.fake.Refund(context.Background(), rec.ProviderRequest())
	if err != nil {
		t.Fatal(err)
	}
	_ = f.refunds.MarkRefunded(context.Background(), rec.RequestID, ref.ID, f.now)
	first := rec
	first.RefundID = ref.ID
	apiCmd := first.Command(f.now) // what the API failed to publish

	f.sweep(testGrace / 2)
	if n := len(f.pub.published()); n != 0 {
		t.Fatalf("published %d within the grace period", n)
	}
	f.pub.fail = true
	f.sweep(testGrace)
	if n := counterValue(t, f.r.steps.WithLabelValues(StepFailed)); n != 1 || f.gauge(RefundRefunded) != 1 {
		t.Fatalf("publish failure: failed %v, unrestocked %v", n, f.gauge(RefundRefunded))
	}
	f.pub.fail = false
	f.sweep(testGrace / 2)
	if n := len(f.pub.published()); n != 0 {
		t.Fatalf("published %d within the grace period after an attempt", n)
	}
	f.sweep(testGrace)
	cmds := f.pub.published()
	if len(cmds) != 1 {
		t.Fatalf("published %d, want 1", len(cmds))
	}
	c := cmds[0]
	if c.Type != topics.CmdRefundOrder || c.RequestID != apiCmd.RequestID || c.IdempotencyKey != apiCmd.IdempotencyKey ||
		c.IdempotencyKey != "refund:admin-1" || *c.Refund != *apiCmd.Refund || c.Refund.RefundID != ref.ID {
		t.Fatalf("published %+v %+v, want %+v %+v", c, c.Refund, apiCmd, apiCmd.Refund)
	}
	if err := c.Check(); err != nil {
		t.Fatalf("command invalid: %v", err)
	}
	// No answer in the read model yet: published again after another grace period.
	f.sweep(testGrace + time.Second)
	if n := len(f.pub.published()); n != 2 {
		t.Fatalf("published %d, want 2", n)
	}
	f.refunds.Finish(rec.RequestID, RefundRestocked, "")
	f.sweep(testGrace + time.Second)
	if n := len(f.pub.published()); n != 2 || f.gauge(RefundRefunded) != 0 {
		t.Fatalf("after restock: published %d, unrestocked %v", n, f.gauge(RefundRefunded))
	}
	if got := f.fake.Refunded(f.intent); got != 200 {
		t.Fatalf("refunded %d at the provider, want 200 once", got)
	}
}

func TestRestockFinishesUnknownProviderOutcome(t *testing.T) {
	// Proves a refund whose provider answer is unknown (refunded, but the answer lost; or the provider unreachable) is asked again with the same idempotency key, refunding once, and then published; a refund the provider refuses for good is marked failed and never published.
	f := newRestockFixture(t)
	lost := f.record("admin-lost", 1)
	if _, err := f.fake.Refund(context.Background(), lost.ProviderRequest()); err != nil {
		t.Fatal(err) // refunded at the provider; the API never heard back
	}
	unreached := f.record("admin-unreached", 1)
	f.fake.FailRefunds(1)
	f.sweep(testGrace + time.Second)
	cmds := f.pub.published()
	if len(cmds) != 1 || cmds[0].RequestID != lost.RequestID && cmds[0].RequestID != unreached.RequestID {
		t.Fatalf("published %+v, want one of the two refunds", cmds)
	}
	f.sweep(testGrace + time.Second)
	ids := map[uuid.UUID]bool{}
	for _, c := range f.pub.published() {
		ids[c.RequestID] = true
	}
	if !ids[lost.RequestID] || !ids[unreached.RequestID] {
		t.Fatalf("published %v, want both refunds", ids)
	}
	if got := f.fake.Refunded(f.intent); got != 200 {
		t.Fatalf("refunded %d at the provider, want 200: each refund once", got)
	}
	for _, rec := range []OrderRefund{lost, unreached} {
		if got := f.refunds.Get(rec.RequestID); got.Status != RefundRefunded || got.RefundID == "" {
			t.Fatalf("refund %s: %+v", rec.Key, got)
		}
	}

	tooMuch := f.record("admin-too-much", 2) // 200 + 200 > 300 paid
	f.sweep(3 * testGrace)
	if got := f.refunds.Get(tooMuch.RequestID); got.Status != RefundFailed || got.Reason == "" {
		t.Fatalf("refused refund: %+v", got)
	}
	for _, c := range f.pub.published() {
		if c.RequestID == tooMuch.RequestID {
			t.Fatal("a refund the provider refused was published")
		}
	}
	if n := counterValue(t, f.r.steps.WithLabelValues(StepProviderRefused)); n != 1 {
		t.Fatalf("provider_refused %v, want 1", n)
	}
}

func TestRestockRefusedIsCountedNotRetried(t *testing.T) {
	// Proves a refund whose restock the writer refused is counted in ticket_payments_refunds_unrestocked{status="refused"} and never published again: the money went back, the tickets did not, and a person decides.
	f := newRestockFixture(t)
	rec := f.record("admin-refused", 1)
	_ = f.refunds.MarkRefunded(context.Background(), rec.RequestID, "re_1", f.now)
	f.refunds.Finish(rec.RequestID, RefundRestockRefused, string(topics.ReasonRefundOverSold))
	f.sweep(testGrace + time.Second)
	if n := len(f.pub.published()); n != 0 {
		t.Fatalf("published %d refused refunds", n)
	}
	if f.gauge(RefundRestockRefused) != 1 || f.gauge(RefundRefunded) != 0 || f.gauge(RefundRequested) != 0 {
		t.Fatalf("unrestocked: refused %v refunded %v requested %v", f.gauge(RefundRestockRefused), f.gauge(RefundRefunded), f.gauge(RefundRequested))
	}
}

func TestRestockLeavesOldRefundsToAPerson(t *testing.T) {
	// Proves a refund older than RestockAgeMax is not retried (the provider's and the writer's idempotency keys may be forgotten by then) but stays counted.
	f := newRestockFixture(t)
	f.record("admin-old", 1)
	f.sweep(RestockAgeMax + time.Minute)
	if n := len(f.pub.published()); n != 0 || f.fake.Refunded(f.intent) != 0 {
		t.Fatalf("an old refund was retried: published %d, refunded %d", n, f.fake.Refunded(f.intent))
	}
	if f.gauge(RefundRequested) != 1 {
		t.Fatalf("unrestocked requested %v, want 1", f.gauge(RefundRequested))
	}
}

func TestRestockConfigValidate(t *testing.T) {
	// Proves the restocker's settings are bounded: a grace period of at least a second and under the age it still finishes.
	for _, c := range []RestockConfig{{Grace: time.Millisecond}, {Grace: RestockAgeMax}, {Grace: time.Minute, Interval: time.Millisecond}} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (RestockConfig{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
