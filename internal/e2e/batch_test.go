package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/ultimate-ticket/ultimate-ticket/internal/app"
)

// batchResult is an item of a POST /holds/batch answer.
type batchResult struct {
	Index     int    `json:"index"`
	Status    string `json:"status"`
	RequestID string `json:"request_id"`
	Replayed  bool   `json:"replayed"`
	Hold      *struct {
		ID string `json:"id"`
	} `json:"hold"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func (s *system) placeBatch(eventID, zoneID, prefix string, n int, headers ...string) (response, []batchResult) {
	s.t.Helper()
	holds := make([]map[string]any, n)
	for i := range holds {
		holds[i] = map[string]any{"event_id": eventID, "zone_id": zoneID, "quantity": 1,
			"idempotency_key": fmt.Sprintf("%s-%d", prefix, i)}
	}
	r := s.do("POST", "/holds/batch", map[string]any{"holds": holds}, headers...)
	if r.status != http.StatusOK && r.status != http.StatusAccepted {
		return r, nil
	}
	var b struct {
		Results []batchResult `json:"results"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || len(b.Results) != n {
		s.t.Fatalf("batch answer %s: %v (want %d results)", r.body, err, n)
	}
	return r, b.Results
}

// lookup asks POST /requests/lookup for ids and returns each status by id.
func (s *system) lookup(ids []string) map[string]string {
	s.t.Helper()
	r := s.expect(s.do("POST", "/requests/lookup", map[string]any{"request_ids": ids}), http.StatusOK)
	var b struct {
		Results []struct {
			RequestID string `json:"request_id"`
			Status    string `json:"status"`
		} `json:"results"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil {
		s.t.Fatal(err)
	}
	out := make(map[string]string, len(b.Results))
	for _, x := range b.Results {
		out[x.RequestID] = x.Status
	}
	return out
}

// TestBatchedHoldsEndToEnd proves POST /holds/batch on real Kafka and Postgres: a
// waited batch answers every hold placed, in order; the same batch again is
// answered from the read model (every hold replayed, nothing published); a batch
// that asks for more than is left gets exactly what is left.
func TestBatchedHoldsEndToEnd(t *testing.T) {
	s := startSystem(t)
	log := newCommandLog(t, s)
	eventID, zones := s.createEvent(250)

	r, items := s.placeBatch(eventID, zones[0], "b1", 200, wait5...)
	s.expect(r, http.StatusOK)
	for i, it := range items {
		if it.Index != i || it.Status != "succeeded" || it.Hold == nil || it.Hold.ID != it.RequestID {
			t.Fatalf("item %d: %+v, want a placed hold", i, it)
		}
	}
	s.eventuallyInventory(eventID, zones[0], [4]float64{250, 50, 200, 0})
	published := log.count(t)

	r, again := s.placeBatch(eventID, zones[0], "b1", 200, wait5...)
	s.expect(r, http.StatusOK)
	for i, it := range again {
		if it.Status != "succeeded" || !it.Replayed || it.RequestID != items[i].RequestID {
			t.Fatalf("retried item %d: %+v, want a replay of %s", i, it, items[i].RequestID)
		}
	}
	if n := log.count(t); n != published {
		t.Fatalf("the retried batch published %d commands, want none", n-published)
	}

	r, rest := s.placeBatch(eventID, zones[0], "b2", 100)
	s.expect(r, http.StatusAccepted)
	ids := make([]string, len(rest))
	for i, it := range rest {
		if it.Status != "pending" {
			t.Fatalf("item %d: %+v, want pending", i, it)
		}
		ids[i] = it.RequestID
	}
	var placed int
	s.eventually(func() bool {
		placed = 0
		for _, st := range s.lookup(ids) {
			switch st {
			case "pending":
				return false
			case "succeeded":
				placed++
			}
		}
		return true
	}, "every held of the second batch decided")
	if placed != 50 {
		t.Fatalf("%d holds of the second batch placed, want the 50 left", placed)
	}
	s.eventuallyInventory(eventID, zones[0], [4]float64{250, 0, 250, 0})
}

// TestOverloadBurstLosesNothing offers far more than a small in-flight bound
// allows, at once: every answer is an acceptance or a 503 overloaded with
// Retry-After (never another error), every accepted hold is decided, and the zone
// is never oversold.
func TestOverloadBurstLosesNothing(t *testing.T) {
	s := startSystem(t, func(c *app.Config) { c.InFlightMax = 1000 })
	const capacity, clients, perBatch = 3000, 40, 100
	eventID, zones := s.createEvent(capacity)

	var (
		mu       sync.Mutex
		accepted []string
		refused  int
		wg       sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, items := s.placeBatch(eventID, zones[0], fmt.Sprintf("burst%d", c), perBatch)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case items != nil:
				for _, it := range items {
					if it.Status != "pending" {
						t.Errorf("client %d item %d: %+v, want pending", c, it.Index, it)
						continue
					}
					accepted = append(accepted, it.RequestID)
				}
			case r.status == http.StatusServiceUnavailable && r.errorCode(t) == "overloaded" && r.header.Get("Retry-After") != "":
				refused++
			default:
				t.Errorf("client %d: status %d %s, want an acceptance or 503 overloaded", c, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	t.Logf("burst of %d batches of %d: %d holds accepted, %d batches refused as overloaded",
		clients, perBatch, len(accepted), refused)
	if len(accepted) == 0 {
		t.Fatal("nothing accepted")
	}

	succeeded := 0
	for start := 0; start < len(accepted); start += 1000 {
		ids := accepted[start:min(start+1000, len(accepted))]
		s.eventually(func() bool {
			for _, st := range s.lookup(ids) {
				if st == "pending" || st == "not_found" {
					return false
				}
			}
			return true
		}, "every accepted hold decided")
		for _, st := range s.lookup(ids) {
			if st == "succeeded" {
				succeeded++
			}
		}
	}
	want := min(len(accepted), capacity)
	if succeeded != want {
		t.Fatalf("%d holds placed of %d accepted, want %d", succeeded, len(accepted), want)
	}
	s.eventuallyInventory(eventID, zones[0], [4]float64{capacity, float64(capacity - want), float64(want), 0})
}
