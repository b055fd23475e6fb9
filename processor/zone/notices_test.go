package zone

import (
	"testing"
	"time"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func drainNotices(s *State) (credits []topics.CreditAdmission, stock []topics.ZoneStock) {
	s.DrainQueueCommands(func(c *topics.Command) {
		if c.Key() != c.EventID {
			panic("a queue command not keyed by its event")
		}
		switch c.Type {
		case topics.CmdCreditAdmission:
			credits = append(credits, *c.Credit)
		case topics.CmdZoneStock:
			stock = append(stock, *c.Stock)
		}
	})
	return credits, stock
}

// TestQueueNotices proves what the zone writer owes the queue writer: a credit for a
// debited hold.place that placed no hold (rejected, or replayed), and for a debited
// hold released or expired, none for one confirmed or without admission; one stock
// notice per waiting-room zone changed between drains, none for other zones; and
// that the waiting-room flag and a hold's admission survive a rebuild.
func TestQueueNotices(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	wr := true
	h.createZone(zoneA, 10, topics.ConfigureZone{WaitingRoom: &wr, HoldTTLSeconds: i64(60), HoldQuantityMax: i64(20)})
	h.createZone(zoneB, 10, topics.ConfigureZone{})
	if _, stock := drainNotices(h.s); len(stock) != 1 || stock[0] != (topics.ZoneStock{ZoneID: zoneA, Available: 10}) {
		t.Fatalf("stock after creation: %+v", stock)
	}
	queueID := testID('Q', 1)
	debited := func(qty int64, key string) *topics.Command {
		c := h.placeCmd(zoneA, qty, "c", key)
		c.Place.Admission = &topics.AdmissionRef{QueueID: queueID, Debited: true}
		return c
	}
	over := h.apply(debited(11, "k0"))
	wantRejected(t, over, topics.ReasonInsufficientCapacity)
	credits, stock := drainNotices(h.s)
	if len(credits) != 1 || credits[0] != (topics.CreditAdmission{QueueID: queueID, Quantity: 11, HoldID: over.RequestID}) || len(stock) != 0 {
		t.Fatalf("after a rejection: credits %+v stock %+v", credits, stock)
	}
	first := h.apply(debited(2, "k1"))
	wantType(t, first, topics.OutHoldPlaced)
	h.apply(debited(2, "k1")) // replayed: the retry was debited again, so it is credited
	credits, stock = drainNotices(h.s)
	if len(credits) != 1 || credits[0].Quantity != 2 || len(stock) != 1 || stock[0].Held != 2 {
		t.Fatalf("after a placement and a replay: credits %+v stock %+v", credits, stock)
	}
	h.place(zoneB, 1, "")
	toConfirm := h.apply(debited(3, "k2")).Hold.ID
	h.apply(h.confirmCmd(zoneA, toConfirm, "c1"))
	h.apply(h.releaseCmd(zoneA, first.Hold.ID, "r1"))
	credits, stock = drainNotices(h.s)
	if len(credits) != 1 || credits[0] != (topics.CreditAdmission{QueueID: queueID, Quantity: 2, HoldID: first.Hold.ID}) {
		t.Fatalf("after a confirm and a release: credits %+v", credits)
	}
	if len(stock) != 1 || stock[0] != (topics.ZoneStock{ZoneID: zoneA, Available: 7}) {
		t.Fatalf("stock after a confirm and a release: %+v", stock)
	}
	toExpire := h.apply(debited(1, "k3")).Hold.ID
	drainNotices(h.s)

	log := map[string][]byte{}
	drainAll(h.s, log)
	r := rebuildFrom(t, DefaultConfig(), log)
	r.Advance(nil, h.now.Add(2*time.Minute))
	credits, stock = drainNotices(r)
	if len(credits) != 1 || credits[0] != (topics.CreditAdmission{QueueID: queueID, Quantity: 1, HoldID: toExpire}) {
		t.Fatalf("expiry after a rebuild: credits %+v", credits)
	}
	if len(stock) != 1 || stock[0].Available != 7 || stock[0].Held != 0 {
		t.Fatalf("stock after expiry: %+v", stock)
	}
	if r.zones[zoneB].waitingRoom || !r.zones[zoneA].waitingRoom {
		t.Fatal("waiting-room flags not rebuilt")
	}
}

// TestWaitingRoomZoneNeedsAnAdmission proves the writer's own gate: a hold that
// reaches a waiting-room zone without an admission the queue writer debited is
// rejected (admission_required) and changes nothing, while a debited one is placed;
// once the room is closed, holds without admission are placed again.
func TestWaitingRoomZoneNeedsAnAdmission(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	on, off := true, false
	h.createZone(zoneA, 10, topics.ConfigureZone{WaitingRoom: &on, HoldTTLSeconds: i64(60), HoldQuantityMax: i64(20)})
	drainNotices(h.s)
	wantRejected(t, h.apply(h.placeCmd(zoneA, 2, "c", "plain")), topics.ReasonAdmissionRequired)
	undebited := h.placeCmd(zoneA, 2, "c", "undebited")
	undebited.Place.Admission = &topics.AdmissionRef{QueueID: testID('Q', 1)}
	wantRejected(t, h.apply(undebited), topics.ReasonAdmissionRequired)
	if credits, stock := drainNotices(h.s); len(credits) != 0 || len(stock) != 0 {
		t.Fatalf("a refused hold without admission owes nothing: credits %+v stock %+v", credits, stock)
	}
	debited := h.placeCmd(zoneA, 2, "c", "debited")
	debited.Place.Admission = &topics.AdmissionRef{QueueID: testID('Q', 1), Debited: true}
	wantType(t, h.apply(debited), topics.OutHoldPlaced)
	if z := h.s.zones[zoneA]; z.held != 2 {
		t.Fatalf("held %d after one admitted hold, want 2", z.held)
	}
	// The refusal is in the changelog like any decision: a rebuilt writer replays it.
	log := map[string][]byte{}
	drainAll(h.s, log)
	r := rebuildFrom(t, DefaultConfig(), log)
	if k := r.key(keyID{zone: zoneA, key: "plain"}); k == nil || k.reason != topics.ReasonAdmissionRequired {
		t.Fatalf("the refusal's key after a rebuild: %+v", k)
	}
	wantType(t, h.apply(h.configureCmd(zoneA, topics.ConfigureZone{WaitingRoom: &off})), topics.OutZoneConfigured)
	wantType(t, h.apply(h.placeCmd(zoneA, 1, "c", "after-close")), topics.OutHoldPlaced)
}
