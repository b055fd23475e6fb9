package sink

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestCollapse proves that a batch collapses to one row per key: a hold placed and
// confirmed in one batch is one confirmed hold, a zone keeps its newest inventory,
// and each request, order and ticketed event appears once.
func TestCollapse(t *testing.T) {
	g := newGen(7, 1, 100)
	outcomes := g.configure()
	place := g.place(g.zones[0])
	confirm := g.resolve(g.zones[0], topics.OutHoldConfirmed)
	outcomes = append(outcomes, place, confirm)
	p := collapse(outcomes)

	if len(p.shows.id) != 1 || len(p.zones.id) != 1 || len(p.invs.id) != 0 {
		t.Fatalf("shows %d, configured zones %d, inventory-only zones %d; want 1, 1, 0",
			len(p.shows.id), len(p.zones.id), len(p.invs.id))
	}
	if got, want := p.zones.held[0]+p.zones.sold[0], place.Hold.Quantity; p.zones.sold[0] != want || got != want {
		t.Errorf("zone held+sold = %d, sold = %d; want the confirmed %d sold", got, p.zones.sold[0], want)
	}
	if !p.zones.asOf[0].Equal(confirm.Time) {
		t.Errorf("zone as_of %v, want the newest event's %v", p.zones.asOf[0], confirm.Time)
	}
	if len(p.holds.id) != 1 || p.holds.status[0] != string(topics.HoldConfirmed) ||
		!p.holds.resolved[0].Valid || p.holds.orderID[0].Bytes != confirm.Order.ID || !p.holds.key[0].Valid {
		t.Errorf("holds = %+v, want one confirmed hold with its order, resolution time and key", p.holds)
	}
	if len(p.orders.id) != 1 || len(p.requests.id) != 3 {
		t.Errorf("orders %d, requests %d; want 1 and 3", len(p.orders.id), len(p.requests.id))
	}
	if p.applied[topics.OutHoldConfirmed] != 1 || !p.newest.Equal(confirm.Time) {
		t.Errorf("applied %v newest %v", p.applied, p.newest)
	}
}

// TestCollapseRequests proves how rejections and replays are recorded: the command
// type (from the event or inferred), the answer a replay repeats, and available
// only for insufficient capacity.
func TestCollapseRequests(t *testing.T) {
	zone, req, hold := uuid.New(), uuid.New(), uuid.New()
	now := time.Now()
	outcomes := []*topics.Outcome{
		{Type: topics.OutRequestRejected, Time: now, ZoneID: zone, RequestID: uuid.New(), CommandType: topics.CmdPlaceHold,
			Rejection: &topics.Rejection{Reason: topics.ReasonInsufficientCapacity, Message: "m", Available: 0}},
		{Type: topics.OutRequestReplayed, Time: now, ZoneID: zone, RequestID: req,
			Replay: &topics.Replay{OriginalType: topics.OutHoldPlaced, HoldID: hold}},
		{Type: topics.OutRequestReplayed, Time: now, ZoneID: zone, RequestID: uuid.New(), CommandType: topics.CmdConfirmHold,
			Replay: &topics.Replay{OriginalType: topics.OutRequestRejected,
				Rejection: &topics.Rejection{Reason: topics.ReasonHoldExpired, Message: "late"}}},
		{Type: "seat.picked", Time: now, ZoneID: zone, RequestID: uuid.New()},
	}
	r := collapse(outcomes).requests
	if len(r.id) != 3 {
		t.Fatalf("requests = %d, want 3 (the unknown type is skipped)", len(r.id))
	}
	want := []struct {
		typ, status, eventType string
		available              bool
		replayed               bool
	}{
		{"hold.place", "rejected", "request.rejected", true, false},
		{"hold.place", "succeeded", "hold.placed", false, true},
		{"hold.confirm", "rejected", "request.rejected", false, true},
	}
	for i, w := range want {
		if r.typ[i] != w.typ || r.status[i] != w.status || r.eventType[i] != w.eventType ||
			r.available[i].Valid != w.available || r.replayed[i] != w.replayed {
			t.Errorf("request %d = %s %s %s available=%v replayed=%v, want %+v", i, r.typ[i], r.status[i],
				r.eventType[i], r.available[i].Valid, r.replayed[i], w)
		}
	}
	if r.holdID[1].Bytes != hold || r.reason[2].String != string(topics.ReasonHoldExpired) {
		t.Errorf("replays lost their answer: hold %v, reason %q", r.holdID[1], r.reason[2].String)
	}
}

// TestCheck proves that events the read model cannot hold are refused (they go to
// the dead-letter topic) and unknown types pass (they are skipped).
func TestCheck(t *testing.T) {
	zone := uuid.New()
	bad := []topics.Outcome{
		{Type: topics.OutHoldPlaced, ZoneID: zone},
		{Type: topics.OutHoldPlaced},
		{Type: topics.OutZoneConfigured, ZoneID: zone},
		{Type: topics.OutHoldConfirmed, ZoneID: zone, Hold: &topics.Hold{ID: uuid.New(), Quantity: 1}},
		{Type: topics.OutRequestRejected, ZoneID: zone},
		{Type: topics.OutRequestReplayed, ZoneID: zone},
		{Type: topics.OutRequestRejected, ZoneID: zone, Rejection: &topics.Rejection{},
			Zone: topics.Inventory{Capacity: 5, Available: 1}},
	}
	for i, e := range bad {
		if err := check(&e); err == nil {
			t.Errorf("event %d (%s) passed the check", i, e.Type)
		}
	}
	if err := check(&topics.Outcome{Type: "seat.picked"}); err != nil {
		t.Errorf("unknown type refused: %v", err)
	}
}
