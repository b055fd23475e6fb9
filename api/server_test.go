package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestUnknownRouteAndWrongMethodAnswerJSON(t *testing.T) {
	// An unknown route is 404 and a known route with the wrong method 405, both
	// with the JSON error body.
	f := newFixture(t, Config{})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nope", 404, "route_not_found"},
		{"GET", "/holds/", 404, "route_not_found"},
		{"PUT", "/holds", 405, "method_not_allowed"},
		{"DELETE", "/events", 405, "method_not_allowed"},
	} {
		w := f.do(tc.method, tc.path, "")
		if w.Code != tc.status || errorCode(t, w) != tc.code {
			t.Errorf("%s %s: status %d body %s, want %d %s", tc.method, tc.path, w.Code, w.Body, tc.status, tc.code)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	// /health answers ok, /ready follows Deps.Ready (503 JSON when it fails), and
	// /metrics serves the API's metrics by route template.
	f := newFixture(t, Config{})
	if w := f.do("GET", "/health", ""); w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("health: %d %q", w.Code, w.Body)
	}
	if w := f.do("GET", "/ready", ""); w.Code != 200 || decodeBody(t, w)["status"] != "ready" {
		t.Fatalf("ready: %d %s", w.Code, w.Body)
	}
	f.ready = errDown
	if w := f.do("GET", "/ready", ""); w.Code != 503 || errorCode(t, w) != "not_ready" {
		t.Fatalf("not ready: %d %s", w.Code, w.Body)
	}
	f.do("GET", "/holds/"+uuid.NewString(), "")
	f.do("POST", "/holds", f.holdBody(1))
	body := f.do("GET", "/metrics", "").Body.String()
	for _, want := range []string{
		`ticket_api_http_requests_total{method="GET",route="/holds/:id",status="404"} 1`,
		`ticket_api_http_request_duration_seconds_bucket{method="POST",route="/holds",status="202",le="+Inf"} 1`,
		`ticket_api_commands_published_total{type="hold.place"} 1`,
		`ticket_api_waiters 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRateLimitPerClient(t *testing.T) {
	// With a rate limit, a client past its burst gets 429 with Retry-After while
	// another client is still served; health checks are never limited.
	f := newFixture(t, Config{RateLimit: 0.5, RateBurst: 2})
	get := func(ip string) *http.Response {
		r, _ := http.NewRequest("GET", "/events/"+f.eventID.String(), nil)
		r.RemoteAddr = ip + ":1234"
		w := newRecorder()
		f.h.ServeHTTP(w, r)
		return w.Result()
	}
	for i := range 2 {
		if s := get("10.0.0.1").StatusCode; s != 200 {
			t.Fatalf("request %d: status %d", i, s)
		}
	}
	r := get("10.0.0.1")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("third request: status %d Retry-After %q, want 429 and 2", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if s := get("10.0.0.2").StatusCode; s != 200 {
		t.Fatalf("other client: status %d", s)
	}
	for range 5 {
		if w := f.do("GET", "/health", ""); w.Code != 200 {
			t.Fatalf("health limited: %d", w.Code)
		}
	}
	// X-Forwarded-For is not trusted without TrustedProxies.
	req, _ := http.NewRequest("GET", "/events/"+f.eventID.String(), nil)
	req.RemoteAddr, req.Header["X-Forwarded-For"] = "10.0.0.1:1", []string{"10.9.9.9"}
	w := newRecorder()
	f.h.ServeHTTP(w, req)
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For escaped the limit: %d", w.Code)
	}
}

func TestClientLimiterStaysBounded(t *testing.T) {
	// The limiter keeps at most RateClientsMax buckets however many clients come,
	// and a client seen recently keeps its (empty) bucket.
	l := newClientLimiter(1, 1, 10)
	now := time.Now()
	if ok, _ := l.allow("hot", now); !ok {
		t.Fatal("first request refused")
	}
	for i := range 1000 {
		l.allow(strings.Repeat("x", i%50)+string(rune('a'+i%26)), now)
		l.allow("hot", now) // keeps "hot" in the current generation
		if n := len(l.cur) + len(l.prev); n > 10 {
			t.Fatalf("%d buckets, want at most 10", n)
		}
	}
	if ok, _ := l.allow("hot", now); ok {
		t.Fatal("the hot client's bucket was refilled by eviction")
	}
}
