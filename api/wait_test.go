package api

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// fakeProcessor plays processor and sink for the wait tests: it decides each
// published command the way the contract says (idempotency keys replay their first
// answer, another payload under the same key conflicts) and records the result in
// the fake read model a little later, as the sink would.
type fakeProcessor struct {
	reads *fakeReads
	delay time.Duration

	mu    sync.Mutex
	first map[string]firstAnswer // by idempotency key
}

type firstAnswer struct {
	payload string
	result  RequestResult
}

func newFakeProcessor(f *fixture) *fakeProcessor {
	p := &fakeProcessor{reads: f.reads, delay: 15 * time.Millisecond, first: map[string]firstAnswer{}}
	f.pub.onPublish = p.decide
	return p
}

func (p *fakeProcessor) decide(cmd *topics.Command) {
	p.mu.Lock()
	defer p.mu.Unlock()
	payload := fmt.Sprintf("%s %+v %+v %+v", cmd.Type, cmd.Place, cmd.Confirm, cmd.Release)
	r := RequestResult{ID: cmd.RequestID, Type: cmd.Type, EventID: cmd.EventID, ZoneID: cmd.ZoneID,
		Status: RequestSucceeded, DecidedAt: time.Now()}
	if prev, ok := p.first[cmd.IdempotencyKey]; ok {
		if prev.payload != payload {
			r.Status, r.Reason, r.Message = RequestRejected, topics.ReasonIdempotencyConflict, "key reused"
		} else {
			r.Status, r.HoldID, r.OrderID, r.Reason, r.Available = prev.result.Status,
				prev.result.HoldID, prev.result.OrderID, prev.result.Reason, prev.result.Available
			r.Replayed = true
		}
		p.later(r)
		return
	}
	p.apply(cmd, &r)
	p.first[cmd.IdempotencyKey] = firstAnswer{payload: payload, result: r}
	p.later(r)
}

func (p *fakeProcessor) apply(cmd *topics.Command, r *RequestResult) {
	p.reads.mu.Lock()
	defer p.reads.mu.Unlock()
	zone := p.reads.zones[cmd.ZoneID]
	switch cmd.Type {
	case topics.CmdPlaceHold:
		if cmd.Place.Quantity > zone.Available {
			avail := zone.Available
			r.Status, r.Reason, r.Available = RequestRejected, topics.ReasonInsufficientCapacity, &avail
			return
		}
		r.HoldID = cmd.RequestID
		p.reads.holds[r.HoldID] = Hold{ID: r.HoldID, EventID: cmd.EventID, ZoneID: cmd.ZoneID,
			Quantity: cmd.Place.Quantity, Status: topics.HoldActive, CreatedAt: time.Now(),
			ExpiresAt: time.Now().Add(10 * time.Minute)}
	case topics.CmdConfirmHold:
		h := p.reads.holds[cmd.Confirm.HoldID]
		if h.Status != topics.HoldActive {
			r.Status, r.Reason, r.HoldID = RequestRejected, topics.ReasonHoldAlreadyConfirmed, h.ID
			return
		}
		r.HoldID, r.OrderID = h.ID, cmd.RequestID
		h.Status, h.OrderID = topics.HoldConfirmed, r.OrderID
		p.reads.holds[h.ID] = h
		p.reads.orders[r.OrderID] = Order{ID: r.OrderID, HoldID: h.ID, EventID: h.EventID,
			ZoneID: h.ZoneID, Quantity: h.Quantity, CreatedAt: time.Now()}
	case topics.CmdReleaseHold:
		h := p.reads.holds[cmd.Release.HoldID]
		r.HoldID = h.ID
		h.Status = topics.HoldReleased
		p.reads.holds[h.ID] = h
	}
}

func (p *fakeProcessor) later(r RequestResult) {
	time.AfterFunc(p.delay, func() { p.reads.setResult(r) })
}

func TestSeedSessionWithPreferWait(t *testing.T) {
	// The seed README's session with Prefer: wait=5 answers as the seed did: hold
	// 201, retry 201 with the same hold id, other quantity 409 idempotency conflict,
	// confirm 201, confirm retry 200 with the same order id.
	f := newFixture(t, Config{})
	newFakeProcessor(f)
	wait := []string{"Prefer", "wait=5"}
	body := func(q int) string {
		return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":%d,"idempotency_key":"hold-req-1"}`, f.eventID, f.zone.ID, q)
	}

	w := f.do("POST", "/holds", body(2), wait...)
	if w.Code != http.StatusCreated || w.Header().Get("Preference-Applied") != "wait=5" {
		t.Fatalf("hold: status %d, Preference-Applied %q: %s", w.Code, w.Header().Get("Preference-Applied"), w.Body)
	}
	hold := decodeBody(t, w)
	holdID, _ := hold["id"].(string)
	if holdID == "" || hold["status"] != "active" || hold["expires_at"] == nil || hold["request_id"] != holdID {
		t.Fatalf("hold body %v", hold)
	}

	w = f.do("POST", "/holds", body(2), wait...)
	if m := decodeBody(t, w); w.Code != http.StatusCreated || m["id"] != holdID {
		t.Fatalf("retry: status %d body %v, want 201 with hold %s", w.Code, m, holdID)
	}

	w = f.do("POST", "/holds", body(3), wait...)
	want := `{"error":{"code":"idempotency_conflict","message":"idempotency conflict"}`
	if w.Code != http.StatusConflict || w.Body.String()[:len(want)] != want {
		t.Fatalf("conflict: status %d body %s", w.Code, w.Body)
	}

	confirm := []string{"Idempotency-Key", "confirm-req-1", "Prefer", "wait=5"}
	w = f.do("POST", "/holds/"+holdID+"/confirm", "", confirm...)
	order := decodeBody(t, w)
	orderID, _ := order["id"].(string)
	if w.Code != http.StatusCreated || orderID == "" || order["hold_id"] != holdID ||
		order["status"] != "confirmed" || order["created_at"] == nil {
		t.Fatalf("confirm: status %d body %v", w.Code, order)
	}

	w = f.do("POST", "/holds/"+holdID+"/confirm", "", confirm...)
	if m := decodeBody(t, w); w.Code != http.StatusOK || m["id"] != orderID {
		t.Fatalf("confirm retry: status %d body %v, want 200 with order %s", w.Code, m, orderID)
	}
}

func TestPreferWaitAnswersRejectionsAndRelease(t *testing.T) {
	// A waited submit answers the processor's rejections with their status and code
	// (insufficient capacity with the tickets available), and a release 200 with the
	// released hold.
	f := newFixture(t, Config{})
	newFakeProcessor(f)
	f.reads.zones[f.zone.ID] = Zone{ID: f.zone.ID, EventID: f.eventID, Name: "floor", Capacity: 3,
		Available: 3, HoldQuantityMax: 4}

	w := f.do("POST", "/holds", f.holdBody(4), "Prefer", "wait=5")
	m := decodeBody(t, w)
	e, _ := m["error"].(map[string]any)
	if w.Code != http.StatusConflict || e["code"] != "insufficient_capacity" || e["available"] != 3.0 || m["request_id"] == nil {
		t.Fatalf("capacity: status %d body %v", w.Code, m)
	}

	w = f.do("DELETE", "/holds/"+f.hold.ID.String(), "", "Prefer", "wait=5")
	m = decodeBody(t, w)
	if w.Code != http.StatusOK || m["id"] != f.hold.ID.String() || m["status"] != "released" {
		t.Fatalf("release: status %d body %v", w.Code, m)
	}
}

func TestPreferWaitRunsOut(t *testing.T) {
	// When no result comes within the wait (capped at WaitMax), the submit answers
	// 202 as usual and says in Preference-Applied how long it waited.
	f := newFixture(t, Config{WaitMax: 150 * time.Millisecond})
	start := time.Now()
	w := f.do("POST", "/holds", f.holdBody(1), "Prefer", "respond-async, wait=30")
	if took := time.Since(start); took < 150*time.Millisecond || took > 2*time.Second {
		t.Fatalf("waited %s, want about WaitMax", took)
	}
	if w.Code != http.StatusAccepted || w.Header().Get("Preference-Applied") != "wait=1" ||
		w.Header().Get("Location") == "" || decodeBody(t, w)["status"] != "pending" {
		t.Fatalf("status %d headers %v body %s", w.Code, w.Header(), w.Body)
	}
	if n := len(f.pub.published()); n != 1 {
		t.Fatalf("published %d, want 1", n)
	}
}

func TestWaitersBeyondWaitersMaxAnswerAtOnce(t *testing.T) {
	// With WaitersMax submits already waiting, another one answers 202 at once,
	// without Preference-Applied, since it did not wait.
	f := newFixture(t, Config{WaitersMax: 1})
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		close(ready)
		f.do("POST", "/holds", f.holdBody(1), "Prefer", "wait=2")
	}()
	<-ready
	deadline := time.Now().Add(time.Second)
	for testutilWaiters(f) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	w := f.do("POST", "/holds", f.holdBody(1), "Prefer", "wait=2")
	if w.Code != http.StatusAccepted || w.Header().Get("Preference-Applied") != "" || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("status %d, Preference-Applied %q after %s", w.Code, w.Header().Get("Preference-Applied"), time.Since(start))
	}
	<-done
}

// testutilWaiters reads the waiters gauge through /metrics.
func testutilWaiters(f *fixture) int {
	w := f.do("GET", "/metrics", "")
	var n float64
	for _, line := range splitLines(w.Body.String()) {
		if _, err := fmt.Sscanf(line, "ticket_api_waiters %g", &n); err == nil {
			return int(n)
		}
	}
	return -1
}

func TestOnePollQueryServesAllWaiters(t *testing.T) {
	// Many submits waiting at once are served by the shared poller with queries that
	// each ask for many request ids, not one query per waiter.
	reads := newFakeReads()
	cfg := Config{}.withDefaults()
	m := newMetrics(nil, &inFlight{})
	w := newWaiters(reads, cfg, m)
	const n = 50
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	var wg sync.WaitGroup
	decided := make([]bool, n)
	for i, id := range ids {
		wg.Go(func() {
			_, decided[i], _ = w.wait(context.Background(), id, time.Now().Add(5*time.Second))
		})
	}
	time.Sleep(50 * time.Millisecond) // let all register and the poller find nothing
	for _, id := range ids {
		reads.setResult(RequestResult{ID: id, Status: RequestSucceeded, Type: topics.CmdPlaceHold})
	}
	wg.Wait()
	for i, ok := range decided {
		if !ok {
			t.Fatalf("waiter %d was not woken", i)
		}
	}
	queries, maxIDs := reads.queries()
	if maxIDs != n {
		t.Fatalf("largest poll asked for %d ids, want all %d in one query", maxIDs, n)
	}
	t.Logf("%d waiters served by %d poll queries", n, queries)
	time.Sleep(3 * cfg.WaitPollInterval)
	if q, _ := reads.queries(); q != queries {
		t.Fatalf("the poller kept querying (%d -> %d) with nobody waiting", queries, q)
	}
}

func TestPreferWaitParsing(t *testing.T) {
	// Prefer: wait=N is found among other preferences and parameters, and anything
	// malformed is ignored as RFC 7240 asks.
	cases := map[string]time.Duration{
		"wait=5":                    5 * time.Second,
		"respond-async, wait=10":    10 * time.Second,
		"WAIT = 3 ; foo":            3 * time.Second,
		`wait="2"`:                  2 * time.Second,
		"handling=lenient,wait=1":   time.Second,
		"wait=0":                    0,
		"wait=-1":                   0,
		"wait=abc":                  0,
		"respond-async":             0,
		"":                          0,
		"wait=99999999999999999999": 0,
	}
	for header, want := range cases {
		h := http.Header{}
		if header != "" {
			h.Set("Prefer", header)
		}
		got, ok := preferWait(h)
		if got != want || ok != (want > 0) {
			t.Errorf("Prefer %q: got %s %v, want %s", header, got, ok, want)
		}
	}
}
