package e2e

import (
	"net/http"
	"testing"
)

// TestRetryServedFromReadModel proves, on real Kafka and Postgres, that a retry
// whose idempotency key the read model has decided is answered from Postgres and
// publishes nothing: the same hold (201 when waiting, 202 naming the original
// request otherwise), 409 idempotency_conflict for another payload, and the same
// order for a retried confirm.
func TestRetryServedFromReadModel(t *testing.T) {
	s := startSystem(t)
	log := newCommandLog(t, s)
	eventID, zones := s.createEvent(10)
	first := s.expect(s.placeHold(eventID, zones[0], 2, "rm-hold", wait5...), http.StatusCreated).json(t)
	holdID := first["id"].(string)
	order := s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "rm-confirm"})...),
		http.StatusCreated).json(t)
	published := log.count(t)

	if m := s.expect(s.placeHold(eventID, zones[0], 2, "rm-hold", wait5...), http.StatusCreated).json(t); m["id"] != holdID {
		t.Errorf("waited retry: hold %v, want %s", m["id"], holdID)
	}
	r := s.expect(s.placeHold(eventID, zones[0], 2, "rm-hold"), http.StatusAccepted)
	if m := r.json(t); m["request_id"] != holdID || r.header.Get("Location") != "/requests/"+holdID {
		t.Errorf("retry: Location %q body %s, want the original request %s", r.header.Get("Location"), r.body, holdID)
	}
	s.expectError(s.placeHold(eventID, zones[0], 3, "rm-hold", wait5...), http.StatusConflict, "idempotency_conflict")
	m := s.expect(s.do("POST", "/holds/"+holdID+"/confirm", nil, hdrs(wait5, []string{"Idempotency-Key", "rm-confirm"})...),
		http.StatusOK).json(t)
	if m["id"] != order["id"] {
		t.Errorf("confirm retry: order %v, want %v", m["id"], order["id"])
	}
	if n := log.count(t); n != published {
		t.Errorf("retries published %d commands, want none", n-published)
	}
	if got := s.inventory(eventID, zones[0]); got != [4]float64{10, 8, 0, 2} {
		t.Errorf("inventory %v, want [10 8 0 2]", got)
	}
}
