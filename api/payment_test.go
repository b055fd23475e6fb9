package api

import (
	"context"
	"encoding/json"
	"errors"

	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

const (
	testWebhookSecret = "whsec_api_test"
	testPrice         = 3000
)

// fakePaymentReads is the payment part of the read model.
type fakePaymentReads struct {
	mu       sync.Mutex
	holds    map[uuid.UUID]HoldPrice
	orders   map[uuid.UUID]OrderPayment
	payments map[uuid.UUID]HoldPayment
}

func (f *fakePaymentReads) HoldPayment(_ context.Context, id uuid.UUID) (HoldPayment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.payments[id]
	if !ok {
		return HoldPayment{}, ErrNotFound
	}
	return p, nil
}

func (f *fakePaymentReads) HoldPrice(_ context.Context, id uuid.UUID) (HoldPrice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.holds[id]
	if !ok {
		return HoldPrice{}, ErrNotFound
	}
	return h, nil
}

func (f *fakePaymentReads) OrderPayment(_ context.Context, id uuid.UUID) (OrderPayment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[id]
	if !ok {
		return OrderPayment{}, ErrNotFound
	}
	return o, nil
}

type payFixture struct {
	*fixture
	fake    *payment.Fake
	pays    *fakePaymentReads
	refunds *payment.FakeRefunds
	order   OrderPayment
}

// newPayFixture is the API fixture with payments: its hold is in a zone priced
// testPrice, and it has a paid order of 3 tickets. The publisher plays the
// processor: every command succeeds at once.
func newPayFixture(t *testing.T) *payFixture {
	f := newFixture(t, Config{})
	pf := &payFixture{fixture: f, fake: payment.NewFake(), refunds: payment.NewFakeRefunds(), pays: &fakePaymentReads{
		holds: map[uuid.UUID]HoldPrice{}, orders: map[uuid.UUID]OrderPayment{}, payments: map[uuid.UUID]HoldPayment{}}}
	pf.pays.holds[f.hold.ID] = HoldPrice{Hold: f.hold, PriceMinor: testPrice, Currency: "eur"}
	paid, err := pf.fake.CreateIntent(context.Background(), payment.IntentRequest{Amount: 3 * testPrice, Currency: "eur", IdempotencyKey: "order"})
	if err != nil {
		t.Fatal(err)
	}
	pf.fake.Succeed(paid.ID)
	pf.order = OrderPayment{Order: Order{ID: uuid.New(), HoldID: uuid.New(), EventID: f.eventID, ZoneID: f.zone.ID, Quantity: 3},
		IntentID: paid.ID, Amount: 3 * testPrice, Currency: "eur"}
	pf.pays.orders[pf.order.Order.ID] = pf.order
	srv, err := newServer(Config{AdminTokens: []string{testAdminToken}, Partitions: testPartitions}, Deps{
		Publisher: f.pub, Reads: f.reads, Registry: prometheus.NewRegistry(), Ready: func(context.Context) error { return nil },
		Payments: &Payments{Provider: pf.fake, Reads: pf.pays, Refunds: pf.refunds, Webhook: payment.WebhookConfig{Secret: testWebhookSecret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv, f.h = srv, srv.routes()
	f.pub.onPublish = func(cmd *topics.Command) {
		r := RequestResult{ID: cmd.RequestID, Type: cmd.Type, EventID: cmd.EventID, ZoneID: cmd.ZoneID,
			Status: RequestSucceeded, DecidedAt: time.Now()}
		if cmd.StartPayment != nil {
			h := f.hold
			h.ExpiresAt = h.ExpiresAt.Add(time.Minute)
			f.reads.mu.Lock()
			f.reads.holds[h.ID] = h
			f.reads.mu.Unlock()
			r.HoldID = h.ID
		}
		f.reads.setResult(r)
	}
	return pf
}

func jsonOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	e, _ := jsonOf(t, b)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestPaymentsDisabled(t *testing.T) {
	// Proves the payment routes answer 503 payments_disabled on a server without payments.
	f := newFixture(t, Config{})
	for _, path := range []string{"/holds/" + f.hold.ID.String() + "/payment", "/webhooks/stripe"} {
		if w := f.do(http.MethodPost, path, ""); w.Code != http.StatusServiceUnavailable || errCode(t, w.Body.Bytes()) != "payments_disabled" {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
}

func TestStartPayment(t *testing.T) {
	// Proves POST /holds/{id}/payment creates one intent for quantity × price, publishes hold.start_payment, and answers the extended expiry; asking again gives the same intent.
	f := newPayFixture(t)
	path := "/holds/" + f.hold.ID.String() + "/payment"
	w := f.do(http.MethodPost, path, "")
	if w.Code != http.StatusCreated {
		t.Fatalf("payment: %d %s", w.Code, w.Body)
	}
	body := jsonOf(t, w.Body.Bytes())
	if body["amount"] != float64(2*testPrice) || body["currency"] != "eur" || body["client_secret"] == "" || body["expires_at"] == nil {
		t.Fatalf("payment body %v", body)
	}
	cmds := f.pub.published()
	if len(cmds) != 1 || cmds[0].Type != topics.CmdStartPayment || cmds[0].StartPayment.Payment.IntentID != body["payment_intent_id"] ||
		cmds[0].IdempotencyKey != startPaymentKeyPrefix+f.hold.ID.String() {
		t.Fatalf("published %+v", cmds)
	}
	again := jsonOf(t, f.do(http.MethodPost, path, "").Body.Bytes())
	if again["payment_intent_id"] != body["payment_intent_id"] {
		t.Fatalf("second intent %v, want %v", again["payment_intent_id"], body["payment_intent_id"])
	}
}

func TestStartPaymentRefusedByProcessor(t *testing.T) {
	// Proves a payment the processor refuses (the hold expired meanwhile) answers the rejection and cancels the intent it created.
	f := newPayFixture(t)
	f.pub.onPublish = func(cmd *topics.Command) {
		f.reads.setResult(RequestResult{ID: cmd.RequestID, Type: cmd.Type, EventID: cmd.EventID, ZoneID: cmd.ZoneID,
			Status: RequestRejected, Reason: topics.ReasonHoldExpired, DecidedAt: time.Now()})
	}
	w := f.do(http.MethodPost, "/holds/"+f.hold.ID.String()+"/payment", "")
	if w.Code != http.StatusConflict || errCode(t, w.Body.Bytes()) != "hold_expired" {
		t.Fatalf("refused payment: %d %s", w.Code, w.Body)
	}
	if f.fake.Cancels() != 1 {
		t.Fatalf("%d intents cancelled, want 1", f.fake.Cancels())
	}
}

func TestStartPaymentRefused(t *testing.T) {
	// Proves a hold of a free zone, an expired hold and an unknown hold are refused without an intent or a command.
	f := newPayFixture(t)
	free := f.pays.holds[f.hold.ID]
	free.PriceMinor, free.Currency = 0, ""
	f.pays.holds[f.hold.ID] = free
	expired := f.hold
	expired.ID, expired.Status = uuid.New(), topics.HoldExpired
	f.pays.holds[expired.ID] = HoldPrice{Hold: expired, PriceMinor: testPrice, Currency: "eur"}
	for _, c := range []struct {
		id   uuid.UUID
		code int
		err  string
	}{{f.hold.ID, http.StatusConflict, "zone_free"}, {expired.ID, http.StatusConflict, "hold_expired"}, {uuid.New(), http.StatusNotFound, "hold_not_found"}} {
		w := f.do(http.MethodPost, "/holds/"+c.id.String()+"/payment", "")
		if w.Code != c.code || errCode(t, w.Body.Bytes()) != c.err {
			t.Errorf("%s: %d %s, want %d %s", c.err, w.Code, w.Body, c.code, c.err)
		}
	}
	f.assertNothingPublished()
}

func signedEvent(t *testing.T, typ stripe.EventType, id string, meta map[string]string, secret string) (string, string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"data": map[string]any{"object": map[string]any{"id": "pi_" + id, "object": "payment_intent", "amount": 2 * testPrice,
			"currency": "eur", "status": "succeeded", "metadata": meta}}})
	if err != nil {
		t.Fatal(err)
	}
	return string(b), webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: b, Secret: secret}).Header
}

func TestStripeWebhookRoute(t *testing.T) {
	// Proves the webhook route answers 400 with codes for unsigned and forged deliveries, 200 for a published or replayed one, and 503 when the command cannot be queued.
	f := newPayFixture(t)
	meta := map[string]string{payment.MetaHoldID: f.hold.ID.String(), payment.MetaZoneID: f.zone.ID.String(),
		payment.MetaEventID: f.eventID.String()}
	body, sig := signedEvent(t, stripe.EventTypePaymentIntentSucceeded, "evt_1", meta, testWebhookSecret)
	if w := f.do(http.MethodPost, "/webhooks/stripe", body); w.Code != http.StatusBadRequest || errCode(t, w.Body.Bytes()) != payment.CodeSignatureMissing {
		t.Fatalf("unsigned: %d %s", w.Code, w.Body)
	}
	_, forged := signedEvent(t, stripe.EventTypePaymentIntentSucceeded, "evt_1", meta, "whsec_other")
	if w := f.do(http.MethodPost, "/webhooks/stripe", body, "Stripe-Signature", forged); w.Code != http.StatusBadRequest ||
		errCode(t, w.Body.Bytes()) != payment.CodeSignatureInvalid {
		t.Fatalf("forged: %d %s", w.Code, w.Body)
	}
	f.assertNothingPublished()
	w := f.do(http.MethodPost, "/webhooks/stripe", body, "Stripe-Signature", sig)
	if w.Code != http.StatusOK || jsonOf(t, w.Body.Bytes())["outcome"] != "published" {
		t.Fatalf("signed: %d %s", w.Code, w.Body)
	}
	cmds := f.pub.published()
	if len(cmds) != 1 || cmds[0].Type != topics.CmdConfirmHold || cmds[0].Confirm.Payment == nil ||
		cmds[0].Confirm.HoldID != f.hold.ID || cmds[0].ZoneID != f.zone.ID {
		t.Fatalf("published %+v", cmds)
	}
	if w := f.do(http.MethodPost, "/webhooks/stripe", body, "Stripe-Signature", sig); w.Code != http.StatusOK ||
		jsonOf(t, w.Body.Bytes())["outcome"] != "replayed" || len(f.pub.published()) != 1 {
		t.Fatalf("replayed: %d %s", w.Code, w.Body)
	}
	body2, sig2 := signedEvent(t, stripe.EventTypePaymentIntentSucceeded, "evt_2", meta, testWebhookSecret)
	f.pub.err = errors.New("broker down")
	if w := f.do(http.MethodPost, "/webhooks/stripe", body2, "Stripe-Signature", sig2); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("publish failure: %d %s", w.Code, w.Body)
	}
}

func TestRefundOrder(t *testing.T) {
	// Proves an admin refund refunds at the provider first (quantity × unit price, once per Idempotency-Key) and then publishes order.refund naming the provider's refund.
	f := newPayFixture(t)
	path := "/orders/" + f.order.Order.ID.String() + "/refund"
	if w := f.admin(http.MethodPost, path, `{"quantity":2}`); w.Code != http.StatusBadRequest || errCode(t, w.Body.Bytes()) != "missing_idempotency_key" {
		t.Fatalf("no key: %d %s", w.Code, w.Body)
	}
	if w := f.admin(http.MethodPost, path, `{"quantity":4}`, "Idempotency-Key", "r1"); w.Code != http.StatusBadRequest {
		t.Fatalf("too many: %d %s", w.Code, w.Body)
	}
	w := f.admin(http.MethodPost, path, `{"quantity":2}`, "Idempotency-Key", "r1", "Prefer", "wait=2")
	if w.Code != http.StatusCreated {
		t.Fatalf("refund: %d %s", w.Code, w.Body)
	}
	body := jsonOf(t, w.Body.Bytes())
	if body["amount"] != float64(2*testPrice) || body["quantity"] != float64(2) {
		t.Fatalf("refund body %v", body)
	}
	f.admin(http.MethodPost, path, `{"quantity":2}`, "Idempotency-Key", "r1")
	if got := f.fake.Refunded(f.order.IntentID); got != 2*testPrice {
		t.Fatalf("refunded %d at the provider, want %d once", got, 2*testPrice)
	}
	cmds := f.pub.published()
	if len(cmds) != 2 || cmds[0].Refund == nil || cmds[0].Refund.RefundID != body["refund_id"] ||
		cmds[0].IdempotencyKey != cmds[1].IdempotencyKey {
		t.Fatalf("published %+v", cmds)
	}
	free := f.order
	free.Order.ID, free.IntentID = uuid.New(), ""
	f.pays.orders[free.Order.ID] = free
	if w := f.admin(http.MethodPost, "/orders/"+free.Order.ID.String()+"/refund", "", "Idempotency-Key", "r2"); w.Code != http.StatusConflict ||
		errCode(t, w.Body.Bytes()) != "order_not_paid" {
		t.Fatalf("free order: %d %s", w.Code, w.Body)
	}
	if w := f.do(http.MethodPost, path, `{}`, "Idempotency-Key", "r3"); w.Code != http.StatusUnauthorized {
		t.Fatalf("without admin token: %d", w.Code)
	}
}

func TestRefundOrderRecordedBeforeProvider(t *testing.T) {
	// Proves an admin refund is in the refund outbox before the provider is asked: a provider failure leaves it requested (503 as before, the worker retries with the same key), a publish failure leaves it refunded with the provider's refund id, and a retry under the same Idempotency-Key carries on with the recorded refund (same request id, no second refund), or answers 409 idempotency_conflict for another quantity.
	f := newPayFixture(t)
	path := "/orders/" + f.order.Order.ID.String() + "/refund"
	f.fake.FailRefunds(1)
	if w := f.admin(http.MethodPost, path, `{"quantity":1}`, "Idempotency-Key", "k1"); w.Code != http.StatusServiceUnavailable ||
		errCode(t, w.Body.Bytes()) != "payment_provider_unavailable" {
		t.Fatalf("provider down: %d %s", w.Code, w.Body)
	}
	rec, err := f.refunds.Find(context.Background(), f.order.Order.ID, "k1")
	if err != nil || rec.Status != payment.RefundRequested || rec.Quantity != 1 || rec.Amount != testPrice ||
		rec.IntentID != f.order.IntentID || rec.HoldID != f.order.Order.HoldID {
		t.Fatalf("recorded %+v %v", rec, err)
	}
	f.assertNothingPublished()

	f.pub.mu.Lock()
	f.pub.err = errors.New("kafka unreachable")
	f.pub.mu.Unlock()
	if w := f.admin(http.MethodPost, path, `{"quantity":1}`, "Idempotency-Key", "k1"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("kafka down: %d %s", w.Code, w.Body)
	}
	rec = f.refunds.Get(rec.RequestID)
	if rec.Status != payment.RefundRefunded || rec.RefundID == "" {
		t.Fatalf("after the provider's refund: %+v", rec)
	}
	f.pub.mu.Lock()
	f.pub.err = nil
	f.pub.mu.Unlock()
	w := f.admin(http.MethodPost, path, "", "Idempotency-Key", "k1", "Prefer", "wait=2")
	body := jsonOf(t, w.Body.Bytes())
	if w.Code != http.StatusCreated || body["request_id"] != rec.RequestID.String() || body["refund_id"] != rec.RefundID ||
		body["quantity"] != float64(1) {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	if cmds := f.pub.published(); len(cmds) != 1 || cmds[0].RequestID != rec.RequestID || cmds[0].Refund.RefundID != rec.RefundID {
		t.Fatalf("published %+v", cmds)
	}
	if got := f.fake.Refunded(f.order.IntentID); got != testPrice {
		t.Fatalf("refunded %d at the provider, want %d once", got, testPrice)
	}
	if w := f.admin(http.MethodPost, path, `{"quantity":2}`, "Idempotency-Key", "k1"); w.Code != http.StatusConflict ||
		errCode(t, w.Body.Bytes()) != string(topics.ReasonIdempotencyConflict) {
		t.Fatalf("other quantity, same key: %d %s", w.Code, w.Body)
	}
}

func TestRefundOrderFinishedAnsweredFromOutbox(t *testing.T) {
	// Proves a retry of a refund the writer decided is answered from the refund outbox without publishing again, as the first answer was: 201 once restocked, the writer's refusal (409 refund_over_sold) once refused, 202 without Prefer: wait.
	f := newPayFixture(t)
	path := "/orders/" + f.order.Order.ID.String() + "/refund"
	f.pub.onPublish = func(cmd *topics.Command) {
		f.reads.setResult(RequestResult{ID: cmd.RequestID, Type: cmd.Type, EventID: cmd.EventID, ZoneID: cmd.ZoneID,
			Status: RequestRejected, Reason: topics.ReasonRefundOverSold, DecidedAt: time.Now()})
	}
	w := f.admin(http.MethodPost, path, `{"quantity":1}`, "Idempotency-Key", "refused", "Prefer", "wait=2")
	if w.Code != http.StatusConflict || errCode(t, w.Body.Bytes()) != string(topics.ReasonRefundOverSold) {
		t.Fatalf("refused restock: %d %s", w.Code, w.Body)
	}
	refused, _ := f.refunds.Find(context.Background(), f.order.Order.ID, "refused")
	f.refunds.Finish(refused.RequestID, payment.RefundRestockRefused, string(topics.ReasonRefundOverSold))
	if w := f.admin(http.MethodPost, path, `{"quantity":1}`, "Idempotency-Key", "refused", "Prefer", "wait=2"); w.Code != http.StatusConflict ||
		errCode(t, w.Body.Bytes()) != string(topics.ReasonRefundOverSold) {
		t.Fatalf("refused, retried: %d %s", w.Code, w.Body)
	}

	f.pub.onPublish = nil
	w = f.admin(http.MethodPost, path, `{"quantity":1}`, "Idempotency-Key", "done")
	if w.Code != http.StatusAccepted {
		t.Fatalf("refund: %d %s", w.Code, w.Body)
	}
	done, _ := f.refunds.Find(context.Background(), f.order.Order.ID, "done")
	f.refunds.Finish(done.RequestID, payment.RefundRestocked, "")
	published := len(f.pub.published())
	w = f.admin(http.MethodPost, path, `{"quantity":1}`, "Idempotency-Key", "done", "Prefer", "wait=2")
	if body := jsonOf(t, w.Body.Bytes()); w.Code != http.StatusCreated || body["status"] != string(RequestSucceeded) ||
		body["request_id"] != done.RequestID.String() || body["refund_id"] != done.RefundID {
		t.Fatalf("restocked, retried: %d %s", w.Code, w.Body)
	}
	if w := f.admin(http.MethodPost, path, "", "Idempotency-Key", "done"); w.Code != http.StatusAccepted ||
		w.Header().Get("Location") != "/requests/"+done.RequestID.String() {
		t.Fatalf("restocked, retried without wait: %d %s", w.Code, w.Body)
	}
	if n := len(f.pub.published()); n != published {
		t.Fatalf("published %d more for finished refunds", n-published)
	}
	if got := f.fake.Refunded(f.order.IntentID); got != 2*testPrice {
		t.Fatalf("refunded %d at the provider, want %d", got, 2*testPrice)
	}
}

func TestGetHoldPayment(t *testing.T) {
	// Proves GET /holds/{id}/payment tells the buyer what became of a late payment (refund_required, hold_expired, refunded) and answers 404 for a hold without one.
	f := newPayFixture(t)
	f.pays.payments[f.hold.ID] = HoldPayment{IntentID: "pi_late", HoldID: f.hold.ID, Amount: 2 * testPrice, Currency: "eur",
		Status: "refund_required", Reason: "hold_expired", Refunded: true, UpdatedAt: time.Now()}
	w := f.do(http.MethodGet, "/holds/"+f.hold.ID.String()+"/payment", "")
	body := jsonOf(t, w.Body.Bytes())
	if w.Code != http.StatusOK || body["status"] != "refund_required" || body["reason"] != "hold_expired" || body["refunded"] != true {
		t.Fatalf("payment: %d %s", w.Code, w.Body)
	}
	if w := f.do(http.MethodGet, "/holds/"+uuid.NewString()+"/payment", ""); w.Code != http.StatusNotFound || errCode(t, w.Body.Bytes()) != "payment_not_found" {
		t.Fatalf("no payment: %d %s", w.Code, w.Body)
	}
}
