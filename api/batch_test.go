package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// batchItem is an item of a POST /holds/batch answer, as a client reads it.
type batchItem struct {
	Index     int        `json:"index"`
	Status    string     `json:"status"`
	RequestID *uuid.UUID `json:"request_id"`
	Hold      *struct {
		ID       uuid.UUID `json:"id"`
		Quantity int64     `json:"quantity"`
	} `json:"hold"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
	Replayed bool `json:"replayed"`
}

func decodeBatch(t *testing.T, body []byte) []batchItem {
	t.Helper()
	var b struct {
		Results []batchItem `json:"results"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("batch answer %s: %v", body, err)
	}
	return b.Results
}

// holdJSONFor is one hold of a batch body.
func (f *fixture) holdJSONFor(zone Zone, quantity any, key string) string {
	return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":%v,"idempotency_key":%q}`,
		zone.EventID, zone.ID, quantity, key)
}

func batchBody(holds ...string) string {
	return `{"holds":[` + strings.Join(holds, ",") + `]}`
}

func TestBatchJudgesEachHoldOnItsOwn(t *testing.T) {
	// Each hold of a batch gets its own result at its index: the valid ones are
	// queued (pending, with a request id), the others are invalid with the error
	// POST /holds would answer; all keys are looked up in one query and nothing
	// invalid is published.
	f := newFixture(t, Config{})
	unknown := Zone{ID: uuid.Must(uuid.NewV7()), EventID: f.eventID}
	body := batchBody(
		f.holdJSONFor(f.zone, 1, "a"),
		f.holdJSONFor(f.zone, 0, "b"),
		f.holdJSONFor(unknown, 1, "c"),
		f.holdJSONFor(f.zone, 5, "d"), // over the zone's hold_quantity_max of 4
		f.holdJSONFor(f.other, 1, "e"),
		fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1}`, f.eventID, f.zone.ID),
	)
	w := f.do(http.MethodPost, "/holds/batch", body)
	if w.Code != http.StatusAccepted || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q), want 202 with Retry-After: %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	items := decodeBatch(t, w.Body.Bytes())
	want := []struct{ status, code string }{
		{"pending", ""}, {"invalid", "invalid_quantity"}, {"invalid", "zone_not_found"},
		{"invalid", "quantity_over_limit"}, {"pending", ""}, {"invalid", "missing_field"},
	}
	if len(items) != len(want) {
		t.Fatalf("%d results, want %d: %s", len(items), len(want), w.Body)
	}
	cmds := f.pub.published()
	if len(cmds) != 2 {
		t.Fatalf("published %d commands, want 2", len(cmds))
	}
	queued := map[uuid.UUID]bool{cmds[0].RequestID: true, cmds[1].RequestID: true}
	for i, it := range items {
		code := ""
		if it.Error != nil {
			code = it.Error.Code
		}
		if it.Index != i || it.Status != want[i].status || code != want[i].code {
			t.Errorf("item %d: %+v (code %q), want %s %q", i, it, code, want[i].status, want[i].code)
		}
		if (it.Status == "pending") != (it.RequestID != nil && queued[*it.RequestID]) {
			t.Errorf("item %d: request id %v does not match the published commands", i, it.RequestID)
		}
	}
	if f.reads.keyQueries != 1 {
		t.Fatalf("%d key queries, want 1 for the whole batch", f.reads.keyQueries)
	}
}

func TestBatchAnswersRetriesFromTheReadModel(t *testing.T) {
	// A key the read model has decided is answered from its first decision without
	// publishing: the same payload replays it, another payload is rejected with
	// idempotency_conflict. When nothing is left pending the answer is 200.
	f := newFixture(t, Config{})
	first := RequestResult{ID: f.hold.ID, Type: topics.CmdPlaceHold, EventID: f.eventID, ZoneID: f.zone.ID,
		Status: RequestSucceeded, HoldID: f.hold.ID, DecidedAt: time.Now()}
	f.reads.setResult(first)
	f.reads.keys[zoneKey{f.zone.ID, "done"}] = first.ID
	w := f.do(http.MethodPost, "/holds/batch", batchBody(
		f.holdJSONFor(f.zone, f.hold.Quantity, "done"),
		f.holdJSONFor(f.zone, f.hold.Quantity+1, "done"),
	))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", w.Code, w.Body)
	}
	items := decodeBatch(t, w.Body.Bytes())
	if it := items[0]; it.Status != "succeeded" || !it.Replayed || it.RequestID == nil || *it.RequestID != first.ID ||
		it.Hold == nil || it.Hold.ID != f.hold.ID {
		t.Errorf("replay: %+v", it)
	}
	if it := items[1]; it.Status != "rejected" || it.Error == nil || it.Error.Code != "idempotency_conflict" {
		t.Errorf("conflict: %+v", it)
	}
	f.assertNothingPublished()
	if n := f.srv.inFlight.n.Load(); n != 0 {
		t.Fatalf("%d commands left in flight", n)
	}
}

func TestBatchWithPreferWaitAnswersEveryResult(t *testing.T) {
	// With Prefer: wait, the batch waits for all its holds under one deadline and
	// answers each result: here every hold is placed, and the answer is 200.
	f := newFixture(t, Config{})
	newFakeProcessor(f)
	holds := make([]string, 50)
	for i := range holds {
		holds[i] = f.holdJSONFor(f.zone, 1, fmt.Sprintf("w%d", i))
	}
	w := f.do(http.MethodPost, "/holds/batch", batchBody(holds...), "Prefer", "wait=5")
	if w.Code != http.StatusOK || w.Header().Get("Preference-Applied") == "" {
		t.Fatalf("status %d (Preference-Applied %q), want 200: %s", w.Code, w.Header().Get("Preference-Applied"), w.Body)
	}
	for i, it := range decodeBatch(t, w.Body.Bytes()) {
		if it.Status != "succeeded" || it.Hold == nil || it.RequestID == nil || it.Hold.ID != *it.RequestID {
			t.Fatalf("item %d: %+v, want a placed hold", i, it)
		}
	}
}

func TestBatchBounds(t *testing.T) {
	// A batch must hold 1 to BatchHoldsMax holds and be well-formed JSON; otherwise
	// the whole batch is refused and nothing is published.
	f := newFixture(t, Config{})
	over := make([]string, BatchHoldsMax+1)
	for i := range over {
		over[i] = f.holdJSONFor(f.zone, 1, fmt.Sprintf("o%d", i))
	}
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty", `{"holds":[]}`, http.StatusBadRequest, "invalid_batch"},
		{"missing", `{}`, http.StatusBadRequest, "invalid_batch"},
		{"too many", batchBody(over...), http.StatusBadRequest, "invalid_batch"},
		{"not json", `{"holds":[`, http.StatusBadRequest, "invalid_json"},
		{"unknown field", `{"holds":[{"zone":"x"}]}`, http.StatusBadRequest, "unknown_field"},
	} {
		w := f.do(http.MethodPost, "/holds/batch", tc.body)
		if w.Code != tc.status || errorCode(t, w) != tc.code {
			t.Errorf("%s: status %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.code)
		}
	}
	f.assertNothingPublished()
}

func TestOverloadIsAnsweredAtOnce(t *testing.T) {
	// With InFlightMax commands being published, a submit (single or batch) answers
	// 503 overloaded with Retry-After at once: no key lookup, nothing published.
	// Once the commands are acknowledged, submits go through again.
	f := newFixture(t, Config{InFlightMax: BatchHoldsMax})
	if !f.srv.inFlight.take(BatchHoldsMax) {
		t.Fatal("could not fill the in-flight bound")
	}
	for _, req := range []struct{ path, body string }{
		{"/holds", f.holdJSONFor(f.zone, 1, "x")},
		{"/holds/batch", batchBody(f.holdJSONFor(f.zone, 1, "y"))},
		{"/holds/" + f.hold.ID.String() + "/confirm", ""},
	} {
		w := f.do(http.MethodPost, req.path, req.body, "Idempotency-Key", "z")
		if w.Code != http.StatusServiceUnavailable || errorCode(t, w) != "overloaded" || w.Header().Get("Retry-After") != "1" {
			t.Fatalf("%s: status %d %s (Retry-After %q), want 503 overloaded with Retry-After 1",
				req.path, w.Code, w.Body, w.Header().Get("Retry-After"))
		}
	}
	f.assertNothingPublished()
	if f.reads.keyQueries != 0 {
		t.Fatalf("%d key queries while overloaded, want 0", f.reads.keyQueries)
	}
	f.srv.inFlight.give(BatchHoldsMax)
	if w := f.do(http.MethodPost, "/holds", f.holdJSONFor(f.zone, 1, "x")); w.Code != http.StatusAccepted {
		t.Fatalf("after the overload: status %d %s, want 202", w.Code, w.Body)
	}
}

// blockingKeys is a ReadModel whose KeyDecisions waits for release, counting its
// queries and the keys in each.
type blockingKeys struct {
	*fakeReads
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func (b *blockingKeys) KeyDecisions(ctx context.Context, keys []ZoneKey, since time.Time) ([]*RequestResult, error) {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(keys))
	b.mu.Unlock()
	<-b.release
	return b.fakeReads.KeyDecisions(ctx, keys, since)
}

func TestKeyLookupsShareQueries(t *testing.T) {
	// While a key query runs, the keys of other submits wait and then go together
	// in one query: 1 worker, 1 submit in flight and 49 waiting make 2 queries.
	reads := &blockingKeys{fakeReads: newFakeReads(), release: make(chan struct{})}
	k := newKeyLookups(reads, Config{KeyLookupWorkers: 1, QueryTimeout: time.Minute}, newMetrics(nil, &inFlight{}))
	zone := uuid.Must(uuid.NewV7())
	var wg sync.WaitGroup
	lookup := func(i int) {
		defer wg.Done()
		prior, ok, err := k.lookup(context.Background(), []ZoneKey{{zone, fmt.Sprint(i)}}, time.Time{})
		if !ok || err != nil || len(prior) != 1 || prior[0] != nil {
			t.Errorf("lookup %d: %v %v %v", i, prior, ok, err)
		}
	}
	wg.Add(1)
	go lookup(0)
	for len(sizesOf(reads)) == 0 { // the first query runs
		time.Sleep(time.Millisecond)
	}
	wg.Add(49)
	for i := 1; i < 50; i++ {
		go lookup(i)
	}
	for queued(k) < 49 {
		time.Sleep(time.Millisecond)
	}
	close(reads.release)
	wg.Wait()
	if got := sizesOf(reads); len(got) != 2 || got[0] != 1 || got[1] != 49 {
		t.Fatalf("queries of %v keys, want [1 49]", got)
	}
}

func sizesOf(b *blockingKeys) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

func queued(k *keyLookups) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.queue)
}

func TestZoneCacheStalenessRule(t *testing.T) {
	// A zone's copy is used as it is while younger than ZoneCacheTTL; older, it is
	// still used while one background query refreshes it; older than ZoneStaleMax
	// with the read model unreachable, it is not used. Unknown zones are not kept.
	reads := newFakeReads()
	z := Zone{ID: uuid.Must(uuid.NewV7()), EventID: uuid.Must(uuid.NewV7()), HoldQuantityMax: 4}
	reads.zones[z.ID] = z
	c := newZoneCache(reads, Config{ZoneCacheTTL: time.Second, ZoneStaleMax: time.Minute, QueryTimeout: time.Second})
	now := time.Now()
	c.now = func() time.Time { return now }
	ctx := context.Background()
	get := func() (Zone, error) { t.Helper(); return c.zone(ctx, z.ID) }

	if got, err := get(); err != nil || got.HoldQuantityMax != 4 {
		t.Fatalf("first read: %+v %v", got, err)
	}
	reads.mu.Lock()
	z.HoldQuantityMax = 2
	reads.zones[z.ID] = z
	reads.mu.Unlock()
	now = now.Add(500 * time.Millisecond)
	if got, _ := get(); got.HoldQuantityMax != 4 {
		t.Fatalf("within the TTL: hold_quantity_max %d, want the copy's 4", got.HoldQuantityMax)
	}
	now = now.Add(time.Second)
	if got, _ := get(); got.HoldQuantityMax != 4 {
		t.Fatalf("past the TTL: hold_quantity_max %d, want the copy's 4 while it refreshes", got.HoldQuantityMax)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if got, _ := get(); got.HoldQuantityMax == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the copy was never refreshed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	reads.mu.Lock()
	reads.err = context.DeadlineExceeded
	reads.mu.Unlock()
	now = now.Add(2 * time.Minute)
	if _, err := get(); err == nil {
		t.Fatal("a copy older than ZoneStaleMax was used with the read model down")
	}
	reads.mu.Lock()
	reads.err = nil
	reads.mu.Unlock()
	if _, err := c.zone(ctx, uuid.Must(uuid.NewV7())); err != ErrNotFound {
		t.Fatalf("unknown zone: %v, want ErrNotFound", err)
	}
	if len(c.entries) != 1 {
		t.Fatalf("%d zones kept, want 1 (unknown zones are not kept)", len(c.entries))
	}
}

func TestLookupRequestsAnswersEachInOrder(t *testing.T) {
	// POST /requests/lookup answers each id as GET /requests/{id} would, in order:
	// decided, pending (not decided, its partition not past it), not_found.
	f := newFixture(t, Config{})
	decided := RequestResult{ID: f.hold.ID, Type: topics.CmdPlaceHold, EventID: f.eventID, ZoneID: f.zone.ID,
		Status: RequestSucceeded, HoldID: f.hold.ID, DecidedAt: time.Now()}
	f.reads.setResult(decided)
	pending := newRequestID(time.Now(), 0)
	unknown := uuid.New() // not a v7: never a request id
	body := fmt.Sprintf(`{"request_ids":[%q,%q,%q]}`, decided.ID, pending, unknown)
	w := f.do(http.MethodPost, "/requests/lookup", body)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var got struct {
		Results []struct {
			RequestID uuid.UUID `json:"request_id"`
			Status    string    `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"succeeded", "pending", "not_found"}
	ids := []uuid.UUID{decided.ID, pending, unknown}
	for i, r := range got.Results {
		if r.RequestID != ids[i] || r.Status != want[i] {
			t.Errorf("result %d: %+v, want %s %s", i, r, ids[i], want[i])
		}
	}
	if len(got.Results) != 3 {
		t.Fatalf("%d results, want 3", len(got.Results))
	}
	if w := f.do(http.MethodPost, "/requests/lookup", `{"request_ids":["nope"]}`); w.Code != http.StatusBadRequest {
		t.Fatalf("bad id: status %d, want 400", w.Code)
	}
}
