package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// requestIDAt makes a request id with time t on partition p, as the API mints them.
func requestIDAt(t time.Time, p int32) uuid.UUID { return newRequestID(t, p) }

func TestRequestIDCarriesItsPartition(t *testing.T) {
	// A request id is a UUIDv7 with the API's time and its command's partition.
	f := newFixture(t, Config{})
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	f.srv.now = func() time.Time { return now }
	w := f.do("POST", "/holds", holdBody(f, 1, "k-partition"))
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	cmd := f.pub.published()[0]
	sec, nsec := cmd.RequestID.Time().UnixTime()
	if cmd.RequestID.Version() != 7 || !time.Unix(sec, nsec).Equal(now) {
		t.Errorf("request id %s: version %d, time %v, want 7 and %v", cmd.RequestID, cmd.RequestID.Version(), time.Unix(sec, nsec), now)
	}
	if got, want := requestPartition(cmd.RequestID), topics.PartitionOf(f.zone.ID, testPartitions); got != want {
		t.Errorf("request id partition %d, want %d", got, want)
	}
}

func TestAcceptedRequestStaysPendingWhilePipelineIsDown(t *testing.T) {
	// An accepted request the read model does not have is pending for as long as
	// its partition has not moved past it, however far the clock runs; only once
	// the partition is decided through a later time than the id's time plus the
	// margin is it unknown.
	f := newFixture(t, Config{PublishTimeout: 10 * time.Second, ClockSkewMax: 2 * time.Minute})
	start := time.Now()
	f.srv.now = func() time.Time { return start }
	w := f.do("POST", "/holds", holdBody(f, 1, "k-pending"))
	if w.Code != http.StatusAccepted {
		t.Fatalf("submit: status %d: %s", w.Code, w.Body)
	}
	id := f.pub.published()[0].RequestID
	p := requestPartition(id)
	get := func() int {
		w := f.do("GET", "/requests/"+id.String(), "")
		return w.Code
	}
	for _, ahead := range []time.Duration{0, 11 * time.Minute, 30 * 24 * time.Hour} {
		f.srv.now = func() time.Time { return start.Add(ahead) }
		if code := get(); code != http.StatusOK {
			t.Errorf("%v later, pipeline down: status %d, want 200 pending", ahead, code)
		}
	}
	// The partition is decided up to the margin: the request may still come.
	f.reads.through[p] = start.Add(2*time.Minute + 10*time.Second - time.Millisecond)
	if code := get(); code != http.StatusOK {
		t.Errorf("decided through the margin: status %d, want 200 pending", code)
	}
	// Another partition moving on says nothing about this one.
	f.reads.through[(p+1)%testPartitions] = start.Add(time.Hour)
	if code := get(); code != http.StatusOK {
		t.Errorf("other partition decided: status %d, want 200 pending", code)
	}
	// Past the margin, the request would have been decided: it is unknown.
	f.reads.through[p] = start.Add(time.Hour)
	if code := get(); code != http.StatusNotFound {
		t.Errorf("partition decided past the id: status %d, want 404", code)
	}
}

func TestUnknownRequestIDs(t *testing.T) {
	// Ids the API never mints are 404 at once; a read-model failure is 503.
	f := newFixture(t, Config{})
	now := time.Now()
	cases := []struct {
		name   string
		id     string
		status int
	}{
		{"fresh, partition not decided", requestIDAt(now, 1).String(), 200},
		{"a partition that does not exist", requestIDAt(now, testPartitions).String(), 404},
		{"a UUIDv4", uuid.NewString(), 404},
		{"malformed", "not-a-uuid", 400},
	}
	for _, tc := range cases {
		w := f.do("GET", "/requests/"+tc.id, "")
		if w.Code != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, w.Code, tc.status, w.Body)
			continue
		}
		m := decodeBody(t, w)
		if tc.status == 200 && (m["status"] != "pending" || m["request_id"] != tc.id) {
			t.Errorf("%s: body %v, want pending", tc.name, m)
		}
		if tc.status == 404 && m["error"].(map[string]any)["code"] != "request_not_found" {
			t.Errorf("%s: body %v", tc.name, m)
		}
	}
}

func TestDecidedRequestMatchesTheWaitedAnswer(t *testing.T) {
	// GET /requests/{id} shows a decided result with the same hold, order or error
	// that a submit waiting for it answers, because both come from decide.
	f := newFixture(t, Config{})
	order := Order{ID: uuid.Must(uuid.NewV7()), HoldID: f.hold.ID, EventID: f.eventID, ZoneID: f.zone.ID,
		Quantity: 2, CreatedAt: time.Now()}
	f.reads.orders[order.ID] = order
	avail := int64(1)
	results := []RequestResult{
		{ID: f.hold.ID, Type: topics.CmdPlaceHold, Status: RequestSucceeded, HoldID: f.hold.ID},
		{ID: order.ID, Type: topics.CmdConfirmHold, Status: RequestSucceeded, HoldID: f.hold.ID, OrderID: order.ID},
		{ID: uuid.Must(uuid.NewV7()), Type: topics.CmdConfirmHold, Status: RequestSucceeded, HoldID: f.hold.ID, OrderID: order.ID, Replayed: true},
		{ID: uuid.Must(uuid.NewV7()), Type: topics.CmdPlaceHold, Status: RequestRejected,
			Reason: topics.ReasonInsufficientCapacity, Message: "only 1 left", Available: &avail},
		{ID: uuid.Must(uuid.NewV7()), Type: topics.CmdConfirmHold, Status: RequestRejected, Reason: topics.ReasonHoldExpired},
		{ID: uuid.Must(uuid.NewV7()), Type: topics.CmdConfirmHold, Status: RequestRejected, Reason: topics.ReasonHoldNotFound},
	}
	wantCodes := []int{201, 201, 200, 409, 409, 404}
	for i, r := range results {
		r.EventID, r.ZoneID, r.DecidedAt = f.eventID, f.zone.ID, time.Now()
		f.reads.setResult(r)
		w := f.do("GET", "/requests/"+r.ID.String(), "")
		if w.Code != http.StatusOK {
			t.Fatalf("result %d: status %d", i, w.Code)
		}
		var got requestJSON
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if got.Status != r.Status || got.Type != r.Type || got.Replayed != r.Replayed {
			t.Fatalf("result %d: %s", i, w.Body)
		}
		// What a waiting submit would have answered for the same result.
		joined, _ := f.reads.RequestResults(t.Context(), []uuid.UUID{r.ID})
		o := decide(&joined[0])
		if o.code != wantCodes[i] {
			t.Fatalf("result %d: waited status %d, want %d", i, o.code, wantCodes[i])
		}
		waited, _ := json.Marshal(waitedBody(&joined[0], o))
		var waitedMap map[string]any
		_ = json.Unmarshal(waited, &waitedMap)
		polled := decodeBody(t, w)
		switch {
		case o.err != nil:
			if !equalJSON(polled["error"], waitedMap["error"]) || polled["reason"] != string(r.Reason) {
				t.Fatalf("result %d: polled error %v, waited %v", i, polled["error"], waitedMap["error"])
			}
		case o.order != nil:
			delete(waitedMap, "request_id")
			if !equalJSON(polled["order"], waitedMap) {
				t.Fatalf("result %d: polled order %v, waited %v", i, polled["order"], waitedMap)
			}
		default:
			delete(waitedMap, "request_id")
			if !equalJSON(polled["hold"], waitedMap) {
				t.Fatalf("result %d: polled hold %v, waited %v", i, polled["hold"], waitedMap)
			}
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestReadEndpoints(t *testing.T) {
	// Holds, orders, events and availability are read from the read model, 404
	// when unknown and 400 when the id is malformed.
	f := newFixture(t, Config{})
	w := f.do("GET", "/holds/"+f.hold.ID.String(), "")
	if m := decodeBody(t, w); w.Code != 200 || m["id"] != f.hold.ID.String() || m["status"] != "active" || m["quantity"] != 2.0 {
		t.Fatalf("hold: %d %v", w.Code, m)
	}
	w = f.do("GET", "/events/"+f.eventID.String(), "")
	if m := decodeBody(t, w); w.Code != 200 || m["name"] != "concert" || len(m["zones"].([]any)) != 1 {
		t.Fatalf("event: %d %v", w.Code, m)
	}
	w = f.do("GET", "/events/"+f.eventID.String()+"/availability", "")
	m := decodeBody(t, w)
	z := m["zones"].([]any)[0].(map[string]any)
	if w.Code != 200 || z["zone_id"] != f.zone.ID.String() || z["available"] != 98.0 || z["held"] != 2.0 ||
		z["sold"] != 0.0 || z["capacity"] != 100.0 || z["as_of"] == nil {
		t.Fatalf("availability: %d %v", w.Code, m)
	}
	for path, code := range map[string]string{
		"/holds/" + uuid.NewString():                       "hold_not_found",
		"/orders/" + uuid.NewString():                      "order_not_found",
		"/events/" + uuid.NewString():                      "event_not_found",
		"/events/" + uuid.NewString() + "/availability":    "event_not_found",
		"/orders/0190f5c2-7c1e-7000-8000-00000000000":      "invalid_id",
		"/events/{0190f5c2-7c1e-7000-8000-000000000000}":   "invalid_id",
		"/holds/urn:uuid:0190f5c2-7c1e-7000-8000-00000000": "invalid_id",
	} {
		w := f.do("GET", path, "")
		if got := errorCode(t, w); got != code {
			t.Errorf("%s: %d %q, want %q", path, w.Code, got, code)
		}
	}
}
