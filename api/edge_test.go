package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// holdBody is a POST /holds body for the fixture's zone.
func holdBody(f *fixture, quantity int, key string) string {
	return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":%d,"idempotency_key":%q}`,
		f.eventID, f.zone.ID, quantity, key)
}

func TestUnstorableTextIsRefused(t *testing.T) {
	// Every text value that reaches an event must be storable in Postgres: valid
	// UTF-8 without NUL. Anything else is 400 invalid_text, naming the field, and
	// nothing is published (a NUL once stopped the sink for everyone).
	f := newFixture(t, Config{})
	place := func(extra string) string {
		return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":1,%s}`, f.eventID, f.zone.ID, extra)
	}
	hold := "/holds/" + f.hold.ID.String()
	cases := []struct {
		name, method, path, body string
		headers                  []string
		field                    string
	}{
		{"NUL in the key", "POST", "/holds", place(`"idempotency_key":"a\u0000b"`), nil, "idempotency_key"},
		{"NUL in the customer", "POST", "/holds", place(`"idempotency_key":"k","customer_id":"c\u0000"`), nil, "customer_id"},
		{"invalid UTF-8 in the key", "POST", "/holds", place("\"idempotency_key\":\"a\xff\xfeb\""), nil, "body"},
		{"NUL in the event name", "POST", "/events", `{"name":"x\u0000","zones":[{"name":"a","capacity":1}]}`,
			[]string{"Authorization", "Bearer " + testAdminToken}, "name"},
		{"NUL in a zone name", "POST", "/events", `{"name":"x","zones":[{"name":"\u0000","capacity":1}]}`,
			[]string{"Authorization", "Bearer " + testAdminToken}, "zones[].name"},
		{"invalid UTF-8 in a confirm key", "POST", hold + "/confirm", "", []string{"Idempotency-Key", "k\xff"}, "Idempotency-Key"},
		{"invalid UTF-8 in a release key", "DELETE", hold, "", []string{"Idempotency-Key", "\xc3("}, "Idempotency-Key"},
		{"invalid UTF-8 in a patch key", "PATCH", fmt.Sprintf("/events/%s/zones/%s", f.eventID, f.zone.ID), `{"capacity":5}`,
			[]string{"Authorization", "Bearer " + testAdminToken, "Idempotency-Key", "\xed\xa0\x80"}, "Idempotency-Key"},
	}
	for _, tc := range cases {
		w := f.do(tc.method, tc.path, tc.body, tc.headers...)
		if w.Code != http.StatusBadRequest || errorCode(t, w) != "invalid_text" {
			t.Errorf("%s: status %d, want 400 invalid_text: %s", tc.name, w.Code, w.Body)
			continue
		}
		msg := decodeBody(t, w)["error"].(map[string]any)["message"].(string)
		if want := fmt.Sprintf("%q", tc.field); tc.field != "body" && !strings.Contains(msg, want) {
			t.Errorf("%s: message %q does not name %s", tc.name, msg, want)
		}
	}
	f.assertNothingPublished()
}

// decided records in the fake read model that the request id decided key in the
// fixture's zone at t, with result r.
func (f *fixture) decided(key string, t time.Time, r RequestResult) RequestResult {
	r.EventID, r.ZoneID, r.DecidedAt = f.eventID, f.zone.ID, t
	f.reads.setResult(r)
	f.reads.mu.Lock()
	f.reads.keys[zoneKey{f.zone.ID, key}] = r.ID
	f.reads.mu.Unlock()
	return r
}

func TestRetryOfDecidedKeyIsAnsweredFromTheReadModel(t *testing.T) {
	// A retry whose key the read model has decided within the retention is
	// answered from it and publishes nothing: the same hold for the same payload,
	// 409 for another payload, the first rejection for a rejected key. Older keys
	// go to the processor.
	f := newFixture(t, Config{})
	now := time.Now()
	f.srv.now = func() time.Time { return now }
	f.hold.CustomerID = "c-1"
	f.reads.holds[f.hold.ID] = f.hold
	orig := f.decided("k-hold", now.Add(-23*time.Hour), RequestResult{ID: f.hold.ID, Type: topics.CmdPlaceHold,
		Status: RequestSucceeded, EventType: topics.OutHoldPlaced, HoldID: f.hold.ID})
	avail := int64(0)
	f.decided("k-soldout", now.Add(-time.Minute), RequestResult{ID: uuid.Must(uuid.NewV7()), Type: topics.CmdPlaceHold,
		Status: RequestRejected, Reason: topics.ReasonInsufficientCapacity, Available: &avail})
	body := func(q int, cust, key string) string {
		return fmt.Sprintf(`{"event_id":%q,"zone_id":%q,"quantity":%d,"customer_id":%q,"idempotency_key":%q}`,
			f.eventID, f.zone.ID, q, cust, key)
	}

	w := f.do("POST", "/holds", body(2, "c-1", "k-hold"), "Prefer", "wait=5")
	if m := decodeBody(t, w); w.Code != http.StatusCreated || m["id"] != orig.ID.String() {
		t.Errorf("same payload, waiting: status %d body %v, want 201 with hold %s", w.Code, m, orig.ID)
	}
	w = f.do("POST", "/holds", body(2, "c-1", "k-hold"))
	if m := decodeBody(t, w); w.Code != http.StatusAccepted || m["request_id"] != orig.ID.String() ||
		w.Header().Get("Location") != "/requests/"+orig.ID.String() {
		t.Errorf("same payload: status %d body %v, want 202 naming the original request", w.Code, m)
	}
	for _, b := range []string{body(3, "c-1", "k-hold"), body(2, "c-2", "k-hold")} {
		if w := f.do("POST", "/holds", b); w.Code != http.StatusConflict || errorCode(t, w) != "idempotency_conflict" {
			t.Errorf("other payload %s: status %d, want 409 idempotency_conflict: %s", b, w.Code, w.Body)
		}
	}
	w = f.do("POST", "/holds", body(1, "c-9", "k-soldout"), "Prefer", "wait=5")
	if w.Code != http.StatusConflict || errorCode(t, w) != "insufficient_capacity" {
		t.Errorf("rejected key: status %d, want 409 insufficient_capacity: %s", w.Code, w.Body)
	}
	confirm := "/holds/" + f.hold.ID.String() + "/confirm"
	if w := f.do("POST", confirm, "", "Idempotency-Key", "k-hold"); w.Code != http.StatusConflict {
		t.Errorf("hold key reused for a confirm: status %d, want 409: %s", w.Code, w.Body)
	}
	f.assertNothingPublished()

	// Past the retention the key is forgotten: the processor decides.
	now = now.Add(2 * time.Hour)
	if w := f.do("POST", "/holds", body(2, "c-1", "k-hold")); w.Code != http.StatusAccepted || len(f.pub.published()) != 1 {
		t.Errorf("key older than the retention: status %d, %d published, want 202 and 1", w.Code, len(f.pub.published()))
	}
}

func TestRetryOfDecidedConfirmIsAnsweredFromTheReadModel(t *testing.T) {
	// A confirm retried with a decided key gets its order (200, a replay) without
	// publishing; the same key for another hold is a conflict.
	f := newFixture(t, Config{})
	order := Order{ID: uuid.Must(uuid.NewV7()), HoldID: f.hold.ID, EventID: f.eventID, ZoneID: f.zone.ID,
		Quantity: 2, CreatedAt: time.Now()}
	f.reads.orders[order.ID] = order
	f.decided("k-confirm", time.Now(), RequestResult{ID: order.ID, Type: topics.CmdConfirmHold,
		Status: RequestSucceeded, EventType: topics.OutHoldConfirmed, HoldID: f.hold.ID, OrderID: order.ID})
	w := f.do("POST", "/holds/"+f.hold.ID.String()+"/confirm", "", "Idempotency-Key", "k-confirm", "Prefer", "wait=5")
	if m := decodeBody(t, w); w.Code != http.StatusOK || m["id"] != order.ID.String() {
		t.Errorf("confirm retry: status %d body %v, want 200 with order %s", w.Code, m, order.ID)
	}
	other := Hold{ID: uuid.Must(uuid.NewV7()), EventID: f.eventID, ZoneID: f.zone.ID, Quantity: 1,
		Status: topics.HoldActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
	f.reads.holds[other.ID] = other
	w = f.do("POST", "/holds/"+other.ID.String()+"/confirm", "", "Idempotency-Key", "k-confirm")
	if w.Code != http.StatusConflict || errorCode(t, w) != "idempotency_conflict" {
		t.Errorf("confirm key reused for another hold: status %d: %s", w.Code, w.Body)
	}
	f.assertNothingPublished()
}
