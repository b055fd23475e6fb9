package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Target is an event whose zones a run places holds on.
type Target struct {
	EventID string   `json:"event_id"`
	ZoneIDs []string `json:"zone_ids"`
}

// TargetSpec is the event CreateTarget creates.
type TargetSpec struct {
	// Name of the event.
	Name string
	// Zones is the number of zones, 1 to ZonesMax.
	Zones int
	// Capacity is the tickets of each zone, 1 to CapacityMax.
	Capacity int64
	// HoldQuantityMax is the most tickets one hold may take (0: the server's default).
	HoldQuantityMax int64
	// HoldTTLSeconds is the zones' hold TTL (0: the server's default). A bench sets
	// the longest (3600), so that no hold expires while held+sold is counted.
	HoldTTLSeconds int64
}

// CreateTarget creates an event with its zones (POST /events, admin) and waits
// until GET /events/{id}/availability shows every zone: at once for a server that
// creates synchronously (201), after the pipeline's round trip for one that
// answers 202.
func CreateTarget(ctx context.Context, client *http.Client, base, token string, spec TargetSpec) (Target, error) {
	if spec.Zones < 1 || spec.Zones > ZonesMax {
		return Target{}, fmt.Errorf("zones %d is not in [1, %d]", spec.Zones, ZonesMax)
	}
	if spec.Capacity < 1 || spec.Capacity > CapacityMax {
		return Target{}, fmt.Errorf("capacity %d is not in [1, %d]", spec.Capacity, CapacityMax)
	}
	base = strings.TrimRight(base, "/")
	zones := make([]map[string]any, spec.Zones)
	for i := range zones {
		z := map[string]any{"name": fmt.Sprintf("zone-%d", i), "capacity": spec.Capacity}
		if spec.HoldQuantityMax > 0 {
			z["hold_quantity_max"] = spec.HoldQuantityMax
		}
		if spec.HoldTTLSeconds > 0 {
			z["hold_ttl_seconds"] = spec.HoldTTLSeconds
		}
		zones[i] = z
	}
	status, raw, err := Send(ctx, client, http.MethodPost, base+"/events",
		map[string]any{"name": spec.Name, "zones": zones},
		map[string]string{"Authorization": "Bearer " + token})
	if err != nil {
		return Target{}, fmt.Errorf("POST /events: %w", err)
	}
	if status != http.StatusAccepted && status != http.StatusCreated {
		return Target{}, fmt.Errorf("POST /events: status %d: %s", status, strings.TrimSpace(string(raw)))
	}
	var created struct {
		EventID string `json:"event_id"`
		Zones   []struct {
			ID string `json:"id"`
		} `json:"zones"`
	}
	if err := json.Unmarshal(raw, &created); err != nil || created.EventID == "" || len(created.Zones) != spec.Zones {
		return Target{}, fmt.Errorf("POST /events: unexpected body %s", raw)
	}
	t := Target{EventID: created.EventID}
	for _, z := range created.Zones {
		t.ZoneIDs = append(t.ZoneIDs, z.ID)
	}
	deadline := time.Now().Add(visibleTimeout)
	for {
		av, err := ReadAvailability(ctx, client, base, t.EventID)
		if err == nil && av.Zones == spec.Zones {
			return t, nil
		}
		if time.Now().After(deadline) {
			return Target{}, fmt.Errorf("event %s: zones not visible after %v", t.EventID, visibleTimeout)
		}
		select {
		case <-ctx.Done():
			return Target{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Availability is the sum over an event's zones of GET /events/{id}/availability.
type Availability struct {
	Zones     int
	Capacity  int64
	Available int64
	Held      int64
	Sold      int64
}

// Taken is the tickets held or sold: with one ticket per hold and no hold expiring,
// the holds the read model shows.
func (a Availability) Taken() int64 { return a.Held + a.Sold }

// ReadAvailability reads GET /events/{id}/availability and sums its zones.
func ReadAvailability(ctx context.Context, client *http.Client, base, eventID string) (Availability, error) {
	status, raw, err := Send(ctx, client, http.MethodGet, strings.TrimRight(base, "/")+"/events/"+eventID+"/availability", nil, nil)
	if err != nil {
		return Availability{}, err
	}
	if status != http.StatusOK {
		return Availability{}, fmt.Errorf("availability of %s: status %d", eventID, status)
	}
	var body struct {
		Zones []struct {
			Capacity  int64 `json:"capacity"`
			Available int64 `json:"available"`
			Held      int64 `json:"held"`
			Sold      int64 `json:"sold"`
		} `json:"zones"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return Availability{}, fmt.Errorf("availability of %s: %w", eventID, err)
	}
	a := Availability{Zones: len(body.Zones)}
	for _, z := range body.Zones {
		a.Capacity += z.Capacity
		a.Available += z.Available
		a.Held += z.Held
		a.Sold += z.Sold
	}
	return a, nil
}
