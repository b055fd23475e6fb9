package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/stripemock"
	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/processor/zone"
)

const (
	e2eWebhookSecret = "whsec_e2e_0123456789"
	e2ePrice         = 2500
)

// paidSystem is ticketd with payments on, against stripe-mock, releasing a hold
// when its payment fails.
func paidSystem(t *testing.T) *system {
	t.Helper()
	mock := stripemock.ForTest(t)
	return startSystem(t, func(c *app.Config) {
		c.Payments.StripeSecretKey = stripemock.SecretKey
		c.Payments.StripeAPIURL = mock.URL
		c.Payments.WebhookSecret = e2eWebhookSecret
		c.Payments.FailurePolicy = string(payment.FailureRelease)
		c.Payments.PaymentExtension = zone.PaymentExtensionMin // an abandoned payment expires within the test
	})
}

// pricedEvent creates an event with one zone of capacity 10 at e2ePrice eur.
func (s *system) pricedEvent() (string, string) {
	s.t.Helper()
	r := s.expect(s.do("POST", "/events", map[string]any{"name": "Paid concert", "zones": []any{
		map[string]any{"name": "Floor", "capacity": 10, "hold_ttl_seconds": 10, "price_minor": e2ePrice, "currency": "eur"},
	}}, hdrs(bearer, wait5)...), http.StatusCreated)
	m := r.json(s.t)
	return m["event_id"].(string), m["zones"].([]any)[0].(map[string]any)["id"].(string)
}

// delivery is a Stripe event for an intent of a hold, signed like Stripe signs it.
type delivery struct {
	body, signature string
}

func (s *system) stripeEvent(typ stripe.EventType, evID, intentID string, amount int64, eventID, zoneID, holdID string, signedAt time.Time, secret string) delivery {
	s.t.Helper()
	b, err := json.Marshal(map[string]any{"id": evID, "object": "event", "type": typ, "api_version": stripe.APIVersion,
		"created": signedAt.Unix(), "data": map[string]any{"object": map[string]any{
			"id": intentID, "object": "payment_intent", "amount": amount, "currency": "eur",
			"metadata": map[string]string{payment.MetaHoldID: holdID, payment.MetaZoneID: zoneID, payment.MetaEventID: eventID},
		}}})
	if err != nil {
		s.t.Fatal(err)
	}
	h := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: b, Secret: secret, Timestamp: signedAt}).Header
	return delivery{string(b), h}
}

func (s *system) deliver(d delivery) response {
	s.t.Helper()
	return s.do("POST", "/webhooks/stripe", d.body, "Stripe-Signature", d.signature)
}

func (s *system) heldHold(eventID, zoneID string, qty int, key string) string {
	s.t.Helper()
	return s.expect(s.placeHold(eventID, zoneID, qty, key, wait5...), http.StatusCreated).json(s.t)["id"].(string)
}

func (s *system) holdStatus(holdID string) string {
	s.t.Helper()
	st, _ := s.expect(s.do("GET", "/holds/"+holdID, nil), http.StatusOK).json(s.t)["status"].(string)
	return st
}

// decided polls GET /requests/{id} of a webhook's request until it is decided. Its
// id is derived from the intent (not a v7 id), so the API answers 404 until the
// read model has it, rather than pending.
func (s *system) decided(id string) map[string]any {
	s.t.Helper()
	var out map[string]any
	s.eventually(func() bool {
		r := s.do("GET", "/requests/"+id, nil)
		if r.status != http.StatusOK {
			return false
		}
		out = r.json(s.t)
		return out["status"] != "pending"
	}, "request %s decided", id)
	return out
}

// eventuallyWithin is eventually with a longer bound: a hold whose payment started
// lives its TTL and then the payment extension.
func (s *system) eventuallyWithin(limit time.Duration, cond func() bool, format string, args ...any) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("not after %s: "+format, append([]any{limit}, args...)...)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *system) pool() *pgxpool.Pool {
	s.t.Helper()
	p, err := pgxpool.New(context.Background(), s.cfg.DatabaseURL)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(p.Close)
	return p
}

func TestPaidJourney(t *testing.T) {
	// Proves the paid journey against real Kafka, Postgres and stripe-mock: an intent for quantity × price, a confirm without payment refused, a signed succeeded webhook making one order whatever the duplicates, a failure after success without effect, forged, unsigned and stale deliveries refused, a failed payment releasing its hold, a late payment refunded by the payments worker, and a refund putting tickets back on sale.
	s := paidSystem(t)
	eventID, zoneID := s.pricedEvent()
	now := time.Now

	// Abandoned: a payment started and never finished; checked at the end, once the
	// hold expired (TTL, then the extension) and the worker cancelled its intent.
	absEvent, absZone := s.pricedEvent()
	abandoned := s.heldHold(absEvent, absZone, 1, "abandon-1")
	absIntent := s.expect(s.do("POST", "/holds/"+abandoned+"/payment", nil), http.StatusCreated).json(t)["payment_intent_id"].(string)

	// An intent for the hold: 2 × 2500, and the hold is extended once.
	holdID := s.heldHold(eventID, zoneID, 2, "pay-1")
	r := s.expect(s.do("POST", "/holds/"+holdID+"/payment", nil), http.StatusCreated).json(t)
	intentID, _ := r["payment_intent_id"].(string)
	if r["amount"] != float64(2*e2ePrice) || r["currency"] != "eur" || r["client_secret"] == "" || intentID == "" || r["expires_at"] == nil {
		t.Fatalf("payment answer %v", r)
	}
	s.expectError(s.do("POST", "/holds/"+holdID+"/confirm", nil, hdrs([]string{"Idempotency-Key", "c-1"}, wait5)...),
		http.StatusConflict, "payment_required")

	// Refused deliveries publish nothing.
	ok := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_ok", intentID, 2*e2ePrice, eventID, zoneID, holdID, now(), e2eWebhookSecret)
	s.expectError(s.do("POST", "/webhooks/stripe", ok.body), http.StatusBadRequest, payment.CodeSignatureMissing)
	forged := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_ok", intentID, 2*e2ePrice, eventID, zoneID, holdID, now(), "whsec_forged")
	s.expectError(s.deliver(forged), http.StatusBadRequest, payment.CodeSignatureInvalid)
	stale := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_ok", intentID, 2*e2ePrice, eventID, zoneID, holdID, now().Add(-time.Hour), e2eWebhookSecret)
	s.expectError(s.deliver(stale), http.StatusBadRequest, payment.CodeSignatureStale)
	if st := s.holdStatus(holdID); st != "active" {
		t.Fatalf("hold %s after refused deliveries", st)
	}

	// Succeeded: one order, whatever the redeliveries and duplicates.
	if out := s.expect(s.deliver(ok), http.StatusOK).json(t); out["outcome"] != "published" {
		t.Fatalf("succeeded: %v", out)
	}
	orderID := payment.RequestIDOf("succeeded", intentID).String()
	s.eventually(func() bool { return s.do("GET", "/orders/"+orderID, nil).status == http.StatusOK }, "order %s", orderID)
	if out := s.expect(s.deliver(ok), http.StatusOK).json(t); out["outcome"] != "replayed" {
		t.Fatalf("redelivery: %v", out)
	}
	dup := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_dup", intentID, 2*e2ePrice, eventID, zoneID, holdID, now(), e2eWebhookSecret)
	s.expect(s.deliver(dup), http.StatusOK)
	late := s.stripeEvent(stripe.EventTypePaymentIntentPaymentFailed, "evt_failed_after", intentID, 2*e2ePrice, eventID, zoneID, holdID, now(), e2eWebhookSecret)
	s.expect(s.deliver(late), http.StatusOK)
	failedReq := payment.RequestIDOf("failed", intentID).String()
	if res := s.decided(failedReq); res["status"] != "rejected" || res["reason"] != "hold_already_confirmed" {
		t.Fatalf("failure after success: %v", res)
	}
	s.eventuallyInventory(eventID, zoneID, [4]float64{10, 8, 0, 2})

	// Failed: the hold is released (PAYMENT_FAILURE_POLICY=release).
	failing := s.heldHold(eventID, zoneID, 1, "pay-2")
	fr := s.expect(s.do("POST", "/holds/"+failing+"/payment", nil), http.StatusCreated).json(t)
	failed := s.stripeEvent(stripe.EventTypePaymentIntentPaymentFailed, "evt_failed", fr["payment_intent_id"].(string), e2ePrice, eventID, zoneID, failing, now(), e2eWebhookSecret)
	s.expect(s.deliver(failed), http.StatusOK)
	s.eventually(func() bool { return s.holdStatus(failing) == "released" }, "hold %s released", failing)

	// Late: paid after the hold expired; the processor answers refund_required
	// and the payments worker refunds at the provider.
	expiring := s.heldHold(eventID, zoneID, 1, "pay-3")
	s.eventually(func() bool { return s.holdStatus(expiring) == "expired" }, "hold %s expired", expiring)
	lateIntent := fmt.Sprintf("pi_late_%d", now().UnixNano())
	lateOK := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_late", lateIntent, e2ePrice, eventID, zoneID, expiring, now(), e2eWebhookSecret)
	s.expect(s.deliver(lateOK), http.StatusOK)
	lateReq := payment.RequestIDOf("succeeded", lateIntent).String()
	if res := s.decided(lateReq); res["status"] != "rejected" || res["reason"] != "hold_expired" {
		t.Fatalf("late payment: %v", res)
	}
	pool := s.pool()
	s.eventually(func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM payment_actions WHERE intent_id = $1 AND action = 'refunded'`, lateIntent).Scan(&n)
		return err == nil && n == 1
	}, "late payment %s refunded by the payments worker", lateIntent)
	// The buyer sees why: the payment came after the hold expired, and was refunded.
	lp := s.expect(s.do("GET", "/holds/"+expiring+"/payment", nil), http.StatusOK).json(t)
	if lp["status"] != "refund_required" || lp["reason"] != "hold_expired" || lp["refunded"] != true || lp["payment_intent_id"] != lateIntent {
		t.Fatalf("late payment as the buyer sees it: %v", lp)
	}

	// Refund: one ticket back on sale, once per Idempotency-Key.
	refund := hdrs(bearer, wait5, []string{"Idempotency-Key", "refund-1"})
	rr := s.expect(s.do("POST", "/orders/"+orderID+"/refund", map[string]any{"quantity": 1}, refund...), http.StatusCreated).json(t)
	if rr["amount"] != float64(e2ePrice) || rr["refund_id"] == "" {
		t.Fatalf("refund answer %v", rr)
	}
	s.eventuallyInventory(eventID, zoneID, [4]float64{10, 9, 0, 1})
	s.expect(s.do("POST", "/orders/"+orderID+"/refund", map[string]any{"quantity": 1}, refund...), http.StatusCreated)
	s.eventuallyInventory(eventID, zoneID, [4]float64{10, 9, 0, 1})

	// The abandoned payment: its hold expired after the extension and the payments
	// worker cancelled the intent at the provider.
	s.eventuallyWithin(2*time.Minute, func() bool { return s.holdStatus(abandoned) == "expired" },
		"hold %s expired after its payment extension", abandoned)
	s.eventually(func() bool {
		var n int
		err := pool.QueryRow(context.Background(), `SELECT count(*) FROM payment_actions WHERE intent_id = $1 AND action = 'canceled'`, absIntent).Scan(&n)
		return err == nil && n == 1
	}, "intent %s of the expired hold cancelled", absIntent)
	if ap := s.expect(s.do("GET", "/holds/"+abandoned+"/payment", nil), http.StatusOK).json(t); ap["status"] != "expired" {
		t.Fatalf("abandoned payment: %v", ap)
	}
}

func TestPaymentSurvivesCrash(t *testing.T) {
	// Proves a crash between a payment's success and its confirm loses nothing: while ticketd is down the provider's delivery fails, and its redelivery after the restart (same topics, same database) makes the order.
	s := paidSystem(t)
	eventID, zoneID := s.pricedEvent()
	holdID := s.heldHold(eventID, zoneID, 1, "crash-1")
	intentID := s.expect(s.do("POST", "/holds/"+holdID+"/payment", nil), http.StatusCreated).json(t)["payment_intent_id"].(string)
	ok := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_crash", intentID, e2ePrice, eventID, zoneID, holdID, time.Now(), e2eWebhookSecret)
	s.stop()
	req, _ := http.NewRequest("POST", s.url+"/webhooks/stripe", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("ticketd still answers after stop")
	}
	s2 := runSystem(t, s.cfg)
	s2.expect(s2.deliver(ok), http.StatusOK)
	orderID := payment.RequestIDOf("succeeded", intentID).String()
	s2.eventually(func() bool { return s2.do("GET", "/orders/"+orderID, nil).status == http.StatusOK }, "order %s after restart", orderID)
	s2.eventuallyInventory(eventID, zoneID, [4]float64{10, 9, 0, 1})
}
