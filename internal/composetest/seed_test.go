package composetest

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// seedSession runs the seed README's session (internal/e2e TestSeedSession) against
// the stack's API: an event of 100, a hold with an idempotent retry and a conflict,
// a confirm with an idempotent retry, and the read model showing 2 sold.
func seedSession(t *testing.T, c *client) {
	eventID, zoneID := createEvent(t, c, 100)
	// The longest wait the API allows: the first transactions of a cluster that has
	// just formed, on a loaded machine, can take longer than the seed's 5 s.
	wait := []string{"Prefer", "wait=30"}
	hold := map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": 2, "idempotency_key": "hold-req-1"}

	// Create hold (201).
	r := c.expect(c.do("POST", "/holds", hold, wait...), http.StatusCreated)
	first := r.json(t)
	holdID, _ := first["id"].(string)
	if holdID == "" || first["status"] != "active" || first["expires_at"] == nil {
		t.Fatalf("hold answer %s: want id, status active, expires_at", r.body)
	}

	// Idempotent retry (201, same hold id).
	r = c.expect(c.do("POST", "/holds", hold, wait...), http.StatusCreated)
	if got := r.json(t)["id"]; got != holdID {
		t.Fatalf("retry hold id %v, want %s", got, holdID)
	}

	// Idempotency conflict (409).
	other := map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": 3, "idempotency_key": "hold-req-1"}
	r = c.expect(c.do("POST", "/holds", other, wait...), http.StatusConflict)
	if code := r.errorCode(t); code != "idempotency_conflict" {
		t.Fatalf("conflict code %q, want idempotency_conflict", code)
	}

	// Confirm hold (201), then its idempotent retry (200, same order id).
	confirm := append([]string{"Idempotency-Key", "confirm-req-1"}, wait...)
	r = c.expect(c.do("POST", "/holds/"+holdID+"/confirm", nil, confirm...), http.StatusCreated)
	order := r.json(t)
	orderID, _ := order["id"].(string)
	if orderID == "" || order["hold_id"] != holdID || order["status"] != "confirmed" {
		t.Fatalf("order answer %s: want id, hold_id %s, status confirmed", r.body, holdID)
	}
	r = c.expect(c.do("POST", "/holds/"+holdID+"/confirm", nil, confirm...), http.StatusOK)
	if got := r.json(t)["id"]; got != orderID {
		t.Fatalf("confirm retry order id %v, want %s", got, orderID)
	}

	// The read model agrees: 2 sold, 98 available.
	eventually(t, "availability shows 2 sold", func() string {
		r := c.expect(c.do("GET", "/events/"+eventID+"/availability", nil), http.StatusOK)
		z := r.json(t)["zones"].([]any)[0].(map[string]any)
		if z["sold"] == 2.0 && z["available"] == 98.0 && z["held"] == 0.0 && z["capacity"] == 100.0 {
			return ""
		}
		return fmt.Sprintf("zone %v", z)
	})
}

// createEvent creates an event of one zone and waits until the read model shows it.
func createEvent(t *testing.T, c *client, capacity int) (eventID, zoneID string) {
	body := map[string]any{"name": "Concert", "zones": []any{map[string]any{"name": "A", "capacity": capacity}}}
	m := c.expect(c.do("POST", "/events", body, bearer()...), http.StatusAccepted).json(t)
	eventID, _ = m["event_id"].(string)
	zones, _ := m["zones"].([]any)
	if eventID == "" || len(zones) != 1 {
		t.Fatalf("event answer %v: want event_id and one zone", m)
	}
	zoneID, _ = zones[0].(map[string]any)["id"].(string)
	eventually(t, "event visible", func() string {
		r := c.do("GET", "/events/"+eventID+"/availability", nil)
		if r.status != http.StatusOK {
			return fmt.Sprintf("availability %d %s", r.status, r.body)
		}
		return ""
	})
	return eventID, zoneID
}

// waitPublishing waits until the API can queue a command. A cluster that has just
// formed answers the first produces with errors for a while (the API says 503
// publish_failed, nothing queued, retry), though /ready already answers: a client
// retries, and so does the test, before the seed session counts anything.
func waitPublishing(t *testing.T, c *client) {
	t.Helper()
	start := time.Now()
	body := map[string]any{"name": "warm-up", "zones": []any{map[string]any{"name": "A", "capacity": 1}}}
	eventually(t, "the API queues a command", func() string {
		r, err := c.try("POST", "/events", body, bearer()...)
		switch {
		case err != nil:
			return err.Error()
		case r.status == http.StatusAccepted:
			return ""
		case r.status == http.StatusServiceUnavailable:
			return fmt.Sprintf("503 %s", r.body)
		default:
			t.Fatalf("warm-up event: status %d, body %s", r.status, r.body)
			return ""
		}
	})
	t.Logf("the API queued its first command %s after the stack was ready", time.Since(start).Round(time.Millisecond))
}
