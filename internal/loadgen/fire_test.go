package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI speaks the part of the contract a fire run uses. mode "pipeline" answers
// 202 pending and decides a request on its first poll; "classic" answers 201 and
// 200 at once. Holds on an event named "over" are refused with 503; loseEvery > 0
// hides every loseEvery-th accepted hold from the availability.
type fakeAPI struct {
	t         *testing.T
	mode      string
	loseEvery int

	mu     sync.Mutex
	events map[string]int // zones
	keys   map[string]bool
	taken  map[string]int64 // by event
	accept map[string]int64 // by event
}

func newFakeAPI(t *testing.T, mode string) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, mode: mode, events: map[string]int{}, keys: map[string]bool{}, taken: map[string]int64{},
		accept: map[string]int64{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type fakeHold struct {
	EventID        string `json:"event_id"`
	ZoneID         string `json:"zone_id"`
	Quantity       int    `json:"quantity"`
	IdempotencyKey string `json:"idempotency_key"`
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/events":
		var body struct {
			Name  string           `json:"name"`
			Zones []map[string]any `json:"zones"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		f.events[body.Name] = len(body.Zones)
		f.mu.Unlock()
		zones := make([]string, len(body.Zones))
		for i := range zones {
			zones[i] = fmt.Sprintf(`{"id":"%s-z%d","status":"pending"}`, body.Name, i)
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"event_id":%q,"status":"pending","zones":[%s]}`, body.Name, strings.Join(zones, ","))
	case r.Method == http.MethodPost && r.URL.Path == "/holds":
		var h fakeHold
		if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
			f.t.Errorf("POST /holds: body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		code, item := f.place(h)
		w.WriteHeader(code)
		_, _ = w.Write([]byte(item))
	case r.Method == http.MethodPost && r.URL.Path == "/holds/batch":
		var body struct {
			Holds []fakeHold `json:"holds"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Holds) == 0 {
			f.t.Errorf("POST /holds/batch: body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if body.Holds[0].EventID == "over" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"overloaded","message":"x"}}`))
			return
		}
		items := make([]string, len(body.Holds))
		for i, h := range body.Holds {
			_, item := f.place(h)
			items[i] = item
		}
		code := http.StatusAccepted
		if f.mode == "classic" {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"results":[%s]}`, strings.Join(items, ","))
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/requests/"):
		fmt.Fprintf(w, `{"request_id":%q,"status":"succeeded","hold":{"status":"active"}}`, strings.TrimPrefix(r.URL.Path, "/requests/"))
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/availability"):
		ev := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/events/"), "/availability")
		f.mu.Lock()
		zones, taken := f.events[ev], f.taken[ev]
		f.mu.Unlock()
		parts := make([]string, zones)
		for i := range parts {
			held := int64(0)
			if i == 0 {
				held = taken
			}
			parts[i] = fmt.Sprintf(`{"zone_id":"z%d","capacity":1000000,"available":%d,"held":%d,"sold":0}`, i, 1000000-held, held)
		}
		fmt.Fprintf(w, `{"event_id":%q,"zones":[%s]}`, ev, strings.Join(parts, ","))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// place answers one hold: its status code as a single submit and its batch item.
func (f *fakeAPI) place(h fakeHold) (int, string) {
	if h.EventID == "over" {
		return http.StatusServiceUnavailable, `{"error":{"code":"overloaded","message":"x"}}`
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if h.Quantity != 1 || !strings.HasPrefix(h.ZoneID, h.EventID+"-z") {
		f.t.Errorf("hold %+v: not the target", h)
	}
	if f.keys[h.IdempotencyKey] {
		f.t.Errorf("idempotency key %q sent twice", h.IdempotencyKey)
	}
	f.keys[h.IdempotencyKey] = true
	f.accept[h.EventID]++
	if f.loseEvery == 0 || f.accept[h.EventID]%int64(f.loseEvery) != 0 {
		f.taken[h.EventID]++
	}
	id := fmt.Sprintf("req-%d", len(f.keys))
	if f.mode == "classic" {
		return http.StatusCreated, fmt.Sprintf(`{"status":"succeeded","request_id":%q,"hold":{"id":"h","status":"active"}}`, id)
	}
	return http.StatusAccepted, fmt.Sprintf(`{"request_id":%q,"status":"pending"}`, id)
}

func fireConfig(t *testing.T, url, event string, zones int) FireConfig {
	t.Helper()
	target, err := CreateTarget(context.Background(), http.DefaultClient, url, "token",
		TargetSpec{Name: event, Zones: zones, Capacity: 1_000_000, HoldTTLSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	return FireConfig{URL: url, Target: target, Rate: 300, Duration: time.Second, SampleEvery: 10,
		VisiblePoll: 10 * time.Millisecond, VisibleWait: 5 * time.Second}
}

// A fire run offers rate*duration holds with unique keys, in single or batch
// requests, counts each accepted one, follows samples to their decision and sees
// every accepted hold in the availability, for both kinds of server.
func TestFireCountsEveryHold(t *testing.T) {
	for _, c := range []struct {
		mode         string
		batch, zones int
	}{{"pipeline", 1, 1}, {"pipeline", 10, 64}, {"classic", 1, 1}, {"classic", 25, 3}} {
		t.Run(fmt.Sprintf("%s/batch%d/zones%d", c.mode, c.batch, c.zones), func(t *testing.T) {
			_, srv := newFakeAPI(t, c.mode)
			cfg := fireConfig(t, srv.URL, "ev", c.zones)
			cfg.Batch = c.batch
			res, err := Fire(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Offered != 300 || res.Accepted != 300 || res.Shed != 0 || res.Errors != 0 || res.Rejected != 0 {
				t.Fatalf("offered %d accepted %d shed %d errors %d (%v) rejected %d, want 300 accepted of 300",
					res.Offered, res.Accepted, res.Shed, res.Errors, res.ErrorKinds, res.Rejected)
			}
			if res.Visible != 300 || res.Lost != 0 || res.VisibleLagSeconds < 0 {
				t.Errorf("visible %d lost %d lag %v, want all 300 visible", res.Visible, res.Lost, res.VisibleLagSeconds)
			}
			// A sampled request waits for its decision: its latency is a
			// submit-to-visible one, not a submit's.
			requests := 300 / c.batch
			if want := requests - res.SubmitToVisible.Count; res.SubmitToVisible.Count == 0 || res.AcceptedLatency.Count != want {
				t.Errorf("samples %d, accepted latencies %d (want %d)", res.SubmitToVisible.Count,
					res.AcceptedLatency.Count, want)
			}
			if !res.Passed(0.99, 5*time.Second) {
				t.Errorf("run did not pass: %s", res.Line())
			}
			var perSecond int64
			for _, s := range res.PerSecond {
				perSecond += s.Accepted
			}
			if perSecond != 300 {
				t.Errorf("per second accepted sum %d, want 300", perSecond)
			}
		})
	}
}

// Overload answers are counted as rejected with their own latencies, and accepted
// holds the availability never shows are counted as lost.
func TestFireRejectedAndLost(t *testing.T) {
	_, srv := newFakeAPI(t, "pipeline")
	cfg := fireConfig(t, srv.URL, "over", 1)
	cfg.Batch = 5
	res, err := Fire(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 300 || res.Accepted != 0 || res.RejectedLatency.Count != 60 || res.Passed(0.99, time.Second) {
		t.Errorf("rejected %d (%d latencies) accepted %d passed %v, want 300 rejected in 60 requests",
			res.Rejected, res.RejectedLatency.Count, res.Accepted, res.Passed(0.99, time.Second))
	}

	f, srv := newFakeAPI(t, "pipeline")
	f.loseEvery = 3
	cfg = fireConfig(t, srv.URL, "lossy", 1)
	cfg.VisibleWait = time.Second
	res, err = Fire(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 300 || res.Lost != 100 || res.VisibleLagSeconds != -1 {
		t.Errorf("accepted %d lost %d lag %v, want 100 of 300 lost and no lag", res.Accepted, res.Lost, res.VisibleLagSeconds)
	}
}

// Step mode raises the rate by its factor until the first failing step and reports
// the last passing one as the knee.
func TestStepFindsKnee(t *testing.T) {
	_, srv := newFakeAPI(t, "pipeline")
	base := fireConfig(t, srv.URL, "ok", 1)
	over := fireConfig(t, srv.URL, "over", 1)
	var before, after []int
	res, err := Step(context.Background(), StepConfig{
		Fire: base, StartRate: 100, Factor: 2, Pause: time.Millisecond, VisibleWithin: 5 * time.Second,
		NewTarget: func(_ context.Context, rate float64) (Target, error) {
			if rate > 300 {
				return over.Target, nil
			}
			return base.Target, nil
		},
		Before: func(step int, _ float64) { before = append(before, step) },
		After:  func(step int, _ *FireResult) { after = append(after, step) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Steps) != 3 || res.Knee != 1 || res.KneeRate != 200 || res.KneeStep().Accepted != 200 {
		t.Fatalf("steps %d knee %d at %v, want 3 steps with the knee at 200/s", len(res.Steps), res.Knee, res.KneeRate)
	}
	if res.Ceiling <= 0 {
		t.Errorf("ceiling %v", res.Ceiling)
	}
	if len(before) != 3 || len(after) != 3 {
		t.Errorf("hooks: before %v after %v", before, after)
	}
}

// A batch answer's items are counted by status, by their bytes or, when those do
// not add up, by decoding.
func TestCountBatch(t *testing.T) {
	raw := []byte(`{"results":[{"index":0,"status":"pending","request_id":"a"},{"index":1,"status":"succeeded","hold":{"status":"active"}},` +
		`{"index":2,"status":"rejected","error":{"code":"insufficient_inventory"}},{"index":3,"status":"invalid"}]}`)
	c, ok := countBatch(raw, 4)
	if !ok || c != (batchCounts{pending: 1, succeeded: 1, rejected: 1, invalid: 1}) {
		t.Errorf("compact: %+v %v", c, ok)
	}
	spaced := []byte(`{"results": [{"status": "pending"}, {"status": "succeeded"}]}`)
	c, ok = countBatch(spaced, 2)
	if !ok || c != (batchCounts{pending: 1, succeeded: 1}) {
		t.Errorf("spaced: %+v %v", c, ok)
	}
	if _, ok := countBatch([]byte(`{"results":[]}`), 2); ok {
		t.Error("short answer counted")
	}
	if got := firstRequestID(raw); got != "a" {
		t.Errorf("first request id %q", got)
	}
}

// Bodies are valid JSON with the zone chosen round robin and a unique key per hold.
func TestBodies(t *testing.T) {
	b := newBodies(Target{EventID: "e", ZoneIDs: []string{"z0", "z1", "z2"}}, `t"ag`, 4)
	var got struct {
		Holds []fakeHold `json:"holds"`
	}
	if err := json.Unmarshal(b.body(nil, 2), &got); err != nil {
		t.Fatal(err)
	}
	for i, h := range got.Holds {
		k := 8 + i
		if h.EventID != "e" || h.ZoneID != fmt.Sprintf("z%d", k%3) || h.IdempotencyKey != fmt.Sprintf(`t"ag-%d`, k) || h.Quantity != 1 {
			t.Errorf("hold %d: %+v", i, h)
		}
	}
	var one fakeHold
	single := newBodies(Target{EventID: "e", ZoneIDs: []string{"z"}}, "t", 1)
	if err := json.Unmarshal(single.body(nil, 7), &one); err != nil || one.IdempotencyKey != "t-7" {
		t.Errorf("single: %+v %v", one, err)
	}
}
