package e2e

import (
	"net/http"
	"testing"
)

// TestSeedSession proves that the seed README's curl session, with `Prefer: wait=5`
// added, answers as the seed did, end to end: HTTP -> Kafka -> processor -> Kafka ->
// sink -> Postgres -> HTTP on real servers.
func TestSeedSession(t *testing.T) {
	s := startSystem(t)
	eventID, zones := s.createEvent(100)
	wait := []string{"Prefer", "wait=5"}
	hold := map[string]any{"event_id": eventID, "zone_id": zones[0], "quantity": 2, "idempotency_key": "hold-req-1"}

	// Create hold (201).
	r := s.expect(s.do("POST", "/holds", hold, wait...), http.StatusCreated)
	first := r.json(t)
	holdID, _ := first["id"].(string)
	if holdID == "" || first["status"] != "active" || first["expires_at"] == nil {
		t.Fatalf("hold answer %s: want id, status active, expires_at", r.body)
	}
	if got := r.header.Get("Preference-Applied"); got != "wait=5" {
		t.Errorf("Preference-Applied = %q, want wait=5", got)
	}

	// Idempotent retry (201, same hold id).
	r = s.expect(s.do("POST", "/holds", hold, wait...), http.StatusCreated)
	if got := r.json(t)["id"]; got != holdID {
		t.Fatalf("retry hold id %v, want %s", got, holdID)
	}

	// Idempotency conflict (409).
	other := map[string]any{"event_id": eventID, "zone_id": zones[0], "quantity": 3, "idempotency_key": "hold-req-1"}
	r = s.expect(s.do("POST", "/holds", other, wait...), http.StatusConflict)
	if code := r.errorCode(t); code != "idempotency_conflict" {
		t.Fatalf("conflict code %q, want idempotency_conflict", code)
	}

	// Confirm hold (201).
	r = s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, "Idempotency-Key", "confirm-req-1", "Prefer", "wait=5"), http.StatusCreated)
	order := r.json(t)
	orderID, _ := order["id"].(string)
	if orderID == "" || order["hold_id"] != holdID || order["status"] != "confirmed" || order["created_at"] == nil {
		t.Fatalf("order answer %s: want id, hold_id %s, status confirmed, created_at", r.body, holdID)
	}

	// Idempotent confirm retry (200, same order id).
	r = s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, "Idempotency-Key", "confirm-req-1", "Prefer", "wait=5"), http.StatusOK)
	if got := r.json(t)["id"]; got != orderID {
		t.Fatalf("confirm retry order id %v, want %s", got, orderID)
	}

	// The read model agrees: 2 sold, 98 available.
	s.eventually(func() bool {
		m := s.expect(s.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK).json(t)
		z := m["zones"].([]any)[0].(map[string]any)
		return z["sold"] == 2.0 && z["available"] == 98.0 && z["held"] == 0.0 && z["capacity"] == 100.0
	}, "availability shows 2 sold")
}

// TestSubmitThenPoll proves the asynchronous contract: a submit answers 202 with a
// request id and Location, and polling that location shows pending and then the
// decided result, including a capacity rejection with the tickets still available.
func TestSubmitThenPoll(t *testing.T) {
	s := startSystem(t)
	eventID, zones := s.createEvent(5)

	r := s.expect(s.do("POST", "/holds", map[string]any{
		"event_id": eventID, "zone_id": zones[0], "quantity": 4, "idempotency_key": "poll-1",
	}), http.StatusAccepted)
	loc := r.header.Get("Location")
	body := r.json(t)
	if loc != "/requests/"+body["request_id"].(string) || body["status"] != "pending" || r.header.Get("Retry-After") == "" {
		t.Fatalf("202 answer: Location %q, Retry-After %q, body %s", loc, r.header.Get("Retry-After"), r.body)
	}
	res := s.poll(loc)
	if res["status"] != "succeeded" {
		t.Fatalf("request result %v, want succeeded", res)
	}

	// Only 1 left: a hold of 2 is rejected with 1 available.
	r = s.expect(s.do("POST", "/holds", map[string]any{
		"event_id": eventID, "zone_id": zones[0], "quantity": 2, "idempotency_key": "poll-2",
	}), http.StatusAccepted)
	res = s.poll(r.header.Get("Location"))
	if res["status"] != "rejected" {
		t.Fatalf("request result %v, want rejected", res)
	}
}
