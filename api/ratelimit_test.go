package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	dto "github.com/prometheus/client_model/go"
)

func TestBuyerLimiterIsPerBuyer(t *testing.T) {
	// Each verified buyer has a bucket of its own: one past its burst waits, and
	// the wait it is told is the time to its next token; another buyer is served.
	l := newBuyerLimiter(0.5, 2, 100)
	now := time.Now()
	for i := range 2 {
		if ok, _ := l.allow("alice", now); !ok {
			t.Fatalf("alice's request %d refused", i)
		}
	}
	ok, wait := l.allow("alice", now)
	if ok || wait != 2*time.Second {
		t.Fatalf("alice past her burst: allowed %v, wait %v, want refused and 2s", ok, wait)
	}
	if ok, _ := l.allow("bob", now); !ok {
		t.Fatal("bob refused for alice's requests")
	}
	if ok, _ := l.allow("alice", now.Add(2*time.Second)); !ok {
		t.Fatal("alice refused after her bucket refilled")
	}
}

func TestBuyerLimiterOffAndBounded(t *testing.T) {
	// Without a rate there is no limiter and nothing is refused; with one, the
	// buckets kept stay under buyersMax however many buyers come.
	var off *buyerLimiter = newBuyerLimiter(0, 0, 0)
	if off != nil {
		t.Fatal("a zero rate made a limiter")
	}
	for range 100 {
		if ok, _ := off.allow("alice", time.Now()); !ok {
			t.Fatal("a nil limiter refused")
		}
	}
	l := newBuyerLimiter(1, 1, 10)
	for i := range 1000 {
		l.allow(string(rune('a'+i%26))+string(rune('A'+i/26)), time.Now())
		if n := len(l.buckets.cur) + len(l.buckets.prev); n > 10 {
			t.Fatalf("%d buckets, want at most 10", n)
		}
	}
}

func TestLimitBuyerAnswers429(t *testing.T) {
	// The hook lets a buyer through while its bucket has tokens, then answers 429
	// rate_limited with Retry-After, counts it, and stops the handler; a request
	// without a verified buyer is left to the per-IP limit.
	f := newFixture(t, Config{})
	l := newBuyerLimiter(0.25, 1, 100)
	call := func(customer string) (bool, *httptest.ResponseRecorder) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/events/x/queue", nil)
		return f.srv.limitBuyer(c, l, customer), w
	}
	if ok, _ := call("alice"); !ok {
		t.Fatal("first request refused")
	}
	before := counterValue(t, f.srv)
	ok, w := call("alice")
	if ok || w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "4" || errorCode(t, w) != "rate_limited" {
		t.Fatalf("second request: allowed %v, status %d, Retry-After %q, body %s", ok, w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	if got := counterValue(t, f.srv) - before; got != 1 {
		t.Fatalf("rate_limited counted %v times, want 1", got)
	}
	for range 5 {
		if ok, _ := call(""); !ok {
			t.Fatal("a request without a buyer was limited per buyer")
		}
	}
}

func counterValue(t *testing.T, s *server) float64 {
	t.Helper()
	var m dto.Metric
	if err := s.metrics.rateLimited.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
