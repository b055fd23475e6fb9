package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
	"github.com/ultimate-ticket/ultimate-ticket/internal/stripemock"
	"github.com/ultimate-ticket/ultimate-ticket/payment"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// lossyProvider stands between ticketd and stripe-mock. While losing, a refund
// reaches the provider (once per idempotency key) and its answer is lost: ticketd
// sees a 500. A refund with a key seen before answers what the provider answered
// the first time, as Stripe's idempotency does (stripe-mock keeps no state).
// Everything else goes to stripe-mock as is.
type lossyProvider struct {
	t    *testing.T
	mock string
	url  string

	mu      sync.Mutex
	losing  bool
	calls   map[string]int    // refund calls by idempotency key
	answers map[string][]byte // the provider's answer by idempotency key
}

func newLossyProvider(t *testing.T, mockURL string) *lossyProvider {
	t.Helper()
	target, err := url.Parse(mockURL)
	if err != nil {
		t.Fatal(err)
	}
	lp := &lossyProvider{t: t, mock: mockURL, calls: map[string]int{}, answers: map[string][]byte{}}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/refunds" {
			lp.refund(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	lp.url = srv.URL
	return lp
}

func (lp *lossyProvider) refund(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.calls[key]++
	answer, done := lp.answers[key]
	if !done {
		body, _ := io.ReadAll(r.Body)
		req, _ := http.NewRequest(http.MethodPost, lp.mock+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		answer, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(answer)
			return
		}
		lp.answers[key] = answer
	}
	w.Header().Set("Content-Type", "application/json")
	if lp.losing {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"the answer was lost"}}`))
		return
	}
	_, _ = w.Write(answer)
}

func (lp *lossyProvider) lose(on bool) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	lp.losing = on
}

// refunds returns how many refunds of key reached the provider, and how many calls
// asked for one.
func (lp *lossyProvider) refunds(key string) (done, calls int) {
	lp.mu.Lock()
	defer lp.mu.Unlock()
	if _, ok := lp.answers[key]; ok {
		done = 1
	}
	return done, lp.calls[key]
}

// outcomesOf counts the events of type typ on the system's events topic, read
// from the start until a poll brings nothing new.
func (s *system) outcomesOf(typ topics.OutcomeType) int {
	s.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(s.cfg.KafkaBrokers, ",")...),
		kgo.ConsumeTopics(s.cfg.TopicPrefix+topics.Events), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		s.t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			got++
			if e, err := topics.DecodeOutcome(r.Value); err == nil && e.Type == typ {
				n++
			}
		})
		if got == 0 {
			return n
		}
	}
}

func TestRefundSurvivesCrash(t *testing.T) {
	// Proves an admin refund that crashes between the provider's refund and the publish of order.refund loses nothing: the provider refunded but its answer never came back, ticketd answered 503 and went down, and after the restart the payments worker asks the provider again with the same key (one refund) and publishes the refund's command, so the tickets are back on sale exactly once (one order.refunded), and the admin's retry gets the same refund.
	mock := stripemock.ForTest(t)
	lp := newLossyProvider(t, mock.URL)
	s := startSystem(t, func(c *app.Config) {
		c.Payments.StripeSecretKey = stripemock.SecretKey
		c.Payments.StripeAPIURL = lp.url
		c.Payments.WebhookSecret = e2eWebhookSecret
	})
	eventID, zoneID := s.pricedEvent()
	holdID := s.heldHold(eventID, zoneID, 2, "refund-crash")
	intentID := s.expect(s.do("POST", "/holds/"+holdID+"/payment", nil), http.StatusCreated).json(t)["payment_intent_id"].(string)
	ok := s.stripeEvent(stripe.EventTypePaymentIntentSucceeded, "evt_refund_crash", intentID, 2*e2ePrice, eventID, zoneID, holdID, time.Now(), e2eWebhookSecret)
	s.expect(s.deliver(ok), http.StatusOK)
	orderID := payment.RequestIDOf("succeeded", intentID).String()
	s.eventually(func() bool { return s.do("GET", "/orders/"+orderID, nil).status == http.StatusOK }, "order %s", orderID)
	s.eventuallyInventory(eventID, zoneID, [4]float64{10, 8, 0, 2})

	// The provider refunds, its answer is lost, and ticketd goes down before it
	// could publish anything.
	lp.lose(true)
	refund := hdrs(bearer, wait5, []string{"Idempotency-Key", "crash-refund"})
	s.expectError(s.do("POST", "/orders/"+orderID+"/refund", map[string]any{"quantity": 1}, refund...),
		http.StatusServiceUnavailable, "payment_provider_unavailable")
	key := payment.OrderRefundKey(orderID + ":crash-refund")
	if done, _ := lp.refunds(key); done != 1 {
		t.Fatal("the refund did not reach the provider")
	}
	s.stop()
	lp.lose(false)

	// After the restart, the worker finishes the refund after its grace period.
	cfg := s.cfg
	cfg.Payments.RestockGrace = payment.RestockGraceMin
	s2 := runSystem(t, cfg)
	s2.eventuallyInventory(eventID, zoneID, [4]float64{10, 9, 0, 1})
	pool := s2.pool()
	var status, refundID string
	s2.eventually(func() bool {
		err := pool.QueryRow(context.Background(), `SELECT status, COALESCE(refund_id, '') FROM order_refund_requests
			WHERE order_id = $1 AND idempotency_key = 'crash-refund'`, orderID).Scan(&status, &refundID)
		return err == nil && status == string(payment.RefundRestocked)
	}, "refund of order %s restocked (status %q)", orderID, &status)

	// Exactly once, a few grace periods later: one refund at the provider, one
	// restock.
	time.Sleep(4 * payment.RestockGraceMin)
	if got := s2.inventory(eventID, zoneID); got != [4]float64{10, 9, 0, 1} {
		t.Fatalf("inventory %v after the worker's grace periods, want [10 9 0 1]", got)
	}
	var rows int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM order_refunds WHERE order_id = $1`, orderID).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("order_refunds rows %d (%v), want 1", rows, err)
	}
	if n := s2.outcomesOf(topics.OutOrderRefunded); n != 1 {
		t.Fatalf("%d order.refunded on the events topic, want 1", n)
	}
	if done, calls := lp.refunds(key); done != 1 || calls < 2 {
		t.Fatalf("provider: %d refunds in %d calls, want 1 refund asked again with the same key", done, calls)
	}

	// The admin's retry is the same refund, answered without a second restock.
	rr := s2.expect(s2.do("POST", "/orders/"+orderID+"/refund", map[string]any{"quantity": 1}, refund...), http.StatusCreated).json(t)
	if rr["refund_id"] != refundID || rr["status"] != "succeeded" || rr["amount"] != float64(e2ePrice) {
		t.Fatalf("retry answer %v, want refund %s", rr, refundID)
	}
	s2.eventuallyInventory(eventID, zoneID, [4]float64{10, 9, 0, 1})
}
