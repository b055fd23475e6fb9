package zone

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testID returns a deterministic uuid: kind in the first byte, n in the last eight.
func testID(kind byte, n uint64) uuid.UUID {
	var u uuid.UUID
	u[0] = kind
	binary.BigEndian.PutUint64(u[8:], n)
	return u
}

var (
	zoneA   = testID('Z', 1)
	zoneB   = testID('Z', 2)
	eventID = testID('E', 1)
)

// harness drives one State, checking its invariants and the one-answer rule after
// every command.
type harness struct {
	t   testing.TB
	s   *State
	now time.Time
	n   uint64
}

func newHarness(t testing.TB, cfg Config) *harness {
	t.Helper()
	return &harness{t: t, s: NewState(cfg), now: t0}
}

func (h *harness) nextID() uuid.UUID { h.n++; return testID('R', h.n) }

// applyAll applies cmd at h.now and returns every event it produced.
func (h *harness) applyAll(cmd *topics.Command) []topics.Outcome {
	h.t.Helper()
	evs := h.s.Apply(nil, cmd, h.now)
	if len(evs) == 0 {
		h.t.Fatalf("%s: no events", cmd.Type)
	}
	for i, ev := range evs {
		last := i == len(evs)-1
		if last != (ev.RequestID == cmd.RequestID) || (!last && ev.Type != topics.OutHoldExpired) {
			h.t.Fatalf("%s: event %d of %d is %s for request %s", cmd.Type, i, len(evs), ev.Type, ev.RequestID)
		}
		if !ev.Time.Equal(h.s.Clock()) {
			h.t.Fatalf("event time %v, clock %v", ev.Time, h.s.Clock())
		}
		inv := ev.Zone
		if inv.Available+inv.Held+inv.Sold != inv.Capacity {
			h.t.Fatalf("event inventory %+v does not add up", inv)
		}
	}
	if err := h.s.Check(); err != nil {
		h.t.Fatalf("after %s: %v", cmd.Type, err)
	}
	return evs
}

// apply applies cmd and returns its answering event.
func (h *harness) apply(cmd *topics.Command) topics.Outcome {
	h.t.Helper()
	evs := h.applyAll(cmd)
	return evs[len(evs)-1]
}

func (h *harness) cmd(typ topics.CommandType, zone uuid.UUID, key string) *topics.Command {
	return &topics.Command{
		Version: topics.SchemaVersion, Type: typ, RequestID: h.nextID(), EventID: eventID,
		ZoneID: zone, IdempotencyKey: key, SubmittedAt: h.now,
	}
}

func (h *harness) configureCmd(zone uuid.UUID, c topics.ConfigureZone) *topics.Command {
	cmd := h.cmd(topics.CmdConfigureZone, zone, "")
	cmd.Configure = &c
	return cmd
}

func (h *harness) placeCmd(zone uuid.UUID, qty int64, customer, key string) *topics.Command {
	cmd := h.cmd(topics.CmdPlaceHold, zone, key)
	cmd.Place = &topics.PlaceHold{Quantity: qty, CustomerID: customer}
	return cmd
}

func (h *harness) confirmCmd(zone, hold uuid.UUID, key string) *topics.Command {
	cmd := h.cmd(topics.CmdConfirmHold, zone, key)
	cmd.Confirm = &topics.ConfirmHold{HoldID: hold}
	return cmd
}

func (h *harness) releaseCmd(zone, hold uuid.UUID, key string) *topics.Command {
	cmd := h.cmd(topics.CmdReleaseHold, zone, key)
	cmd.Release = &topics.ReleaseHold{HoldID: hold}
	return cmd
}

func i64(v int64) *int64 { return &v }

// createZone creates a zone with capacity and the given limits (nil = default).
func (h *harness) createZone(zone uuid.UUID, capacity int64, c topics.ConfigureZone) topics.Outcome {
	h.t.Helper()
	c.EventName, c.ZoneName, c.Capacity = "Concert", "Floor", i64(capacity)
	ev := h.apply(h.configureCmd(zone, c))
	if ev.Type != topics.OutZoneConfigured || !ev.Config.Created {
		h.t.Fatalf("create zone: %s %+v", ev.Type, ev.Rejection)
	}
	return ev
}

// place places a hold that must succeed and returns its id.
func (h *harness) place(zone uuid.UUID, qty int64, customer string) uuid.UUID {
	h.t.Helper()
	ev := h.apply(h.placeCmd(zone, qty, customer, ""))
	if ev.Type != topics.OutHoldPlaced {
		h.t.Fatalf("place %d: %s %+v", qty, ev.Type, ev.Rejection)
	}
	return ev.Hold.ID
}

func wantType(t *testing.T, ev topics.Outcome, typ topics.OutcomeType) {
	t.Helper()
	if ev.Type != typ {
		t.Fatalf("event %s (rejection %+v), want %s", ev.Type, ev.Rejection, typ)
	}
}

func wantRejected(t *testing.T, ev topics.Outcome, reason topics.Reason) {
	t.Helper()
	wantType(t, ev, topics.OutRequestRejected)
	if ev.Rejection.Reason != reason {
		t.Fatalf("rejected %s (%s), want %s", ev.Rejection.Reason, ev.Rejection.Message, reason)
	}
}

func wantInventory(t *testing.T, got topics.Inventory, capacity, available, held, sold int64) {
	t.Helper()
	want := topics.Inventory{Capacity: capacity, Available: available, Held: held, Sold: sold}
	if got != want {
		t.Fatalf("inventory %+v, want %+v", got, want)
	}
}
