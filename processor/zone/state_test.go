package zone

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

func TestConfigValidate(t *testing.T) {
	// Proves the defaults are valid and each contradiction is rejected by name.
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"HoldTTLDefault":         func(c *Config) { c.HoldTTLDefault = 2 * topics.HoldTTLMax },
		"HoldQuantityMaxDefault": func(c *Config) { c.HoldQuantityMaxDefault = -1 },
		"IdempotencyRetention":   func(c *Config) { c.IdempotencyRetention = -1 },
		"KeysMax":                func(c *Config) { c.KeysMax = -1 },
		"HoldsMax":               func(c *Config) { c.HoldsMax = -1 },
		"ResolvedHoldsMax":       func(c *Config) { c.ResolvedHoldsMax = -1 },
		"ZonesMax":               func(c *Config) { c.ZonesMax = -1 },
	} {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want one naming it", name, err)
		}
	}
	// A zero field takes its default.
	if got := NewState(Config{}).cfg; got != DefaultConfig() {
		t.Errorf("NewState(Config{}) uses %+v, want the defaults %+v", got, DefaultConfig())
	}
}

func TestConfigureCreatesZoneWithDefaults(t *testing.T) {
	// Proves a zone is created with the config's defaults, Created true, and its inventory in the event.
	h := newHarness(t, DefaultConfig())
	ev := h.createZone(zoneA, 100, topics.ConfigureZone{})
	want := topics.ZoneConfig{EventName: "Concert", ZoneName: "Floor", Capacity: 100, HoldTTLSeconds: 600,
		HoldQuantityMax: 10, CustomerLimit: 0, Created: true}
	if *ev.Config != want {
		t.Fatalf("config %+v, want %+v", *ev.Config, want)
	}
	wantInventory(t, ev.Zone, 100, 100, 0, 0)
	if ev.ZoneID != zoneA || ev.EventID != eventID || !ev.Time.Equal(t0) {
		t.Fatalf("header %+v", ev)
	}
}

func TestConfigureUpdatesSetFieldsOnly(t *testing.T) {
	// Proves an update changes only the fields set, may lower capacity to exactly held+sold, and is not Created.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{HoldTTLSeconds: i64(60), CustomerLimit: i64(4)})
	hold := h.place(zoneA, 3, "")
	wantType(t, h.apply(h.confirmCmd(zoneA, hold, "k")), topics.OutHoldConfirmed)
	h.place(zoneA, 2, "")
	ev := h.apply(h.configureCmd(zoneA, topics.ConfigureZone{Capacity: i64(5), HoldQuantityMax: i64(3)}))
	wantType(t, ev, topics.OutZoneConfigured)
	want := topics.ZoneConfig{EventName: "Concert", ZoneName: "Floor", Capacity: 5, HoldTTLSeconds: 60,
		HoldQuantityMax: 3, CustomerLimit: 4}
	if *ev.Config != want {
		t.Fatalf("config %+v, want %+v", *ev.Config, want)
	}
	wantInventory(t, ev.Zone, 5, 0, 2, 3)
}

func TestConfigureRejections(t *testing.T) {
	// Proves every configure rejection reason, and that a rejected configure changes nothing.
	cfg := DefaultConfig()
	cfg.ZonesMax = 2
	for _, tc := range []struct {
		name   string
		zone   uuid.UUID
		c      topics.ConfigureZone
		reason topics.Reason
	}{
		{"update of unknown zone", zoneB, topics.ConfigureZone{Capacity: nil, CustomerLimit: i64(1)}, topics.ReasonZoneNotFound},
		{"creation without zone name", zoneB, topics.ConfigureZone{EventName: "e", Capacity: i64(1)}, topics.ReasonInvalidCommand},
		{"creation without capacity", zoneB, topics.ConfigureZone{EventName: "e", ZoneName: "z"}, topics.ReasonInvalidCommand},
		{"negative capacity", zoneA, topics.ConfigureZone{Capacity: i64(-1)}, topics.ReasonInvalidCommand},
		{"capacity over max", zoneA, topics.ConfigureZone{Capacity: i64(topics.ZoneCapacityMax + 1)}, topics.ReasonInvalidCommand},
		{"capacity below held+sold", zoneA, topics.ConfigureZone{Capacity: i64(4)}, topics.ReasonCapacityBelowTaken},
		{"ttl below min", zoneA, topics.ConfigureZone{HoldTTLSeconds: i64(9)}, topics.ReasonInvalidTTL},
		{"ttl above max", zoneA, topics.ConfigureZone{HoldTTLSeconds: i64(3601)}, topics.ReasonInvalidTTL},
		{"ttl negative", zoneA, topics.ConfigureZone{HoldTTLSeconds: i64(-10)}, topics.ReasonInvalidTTL},
		{"hold quantity max 0", zoneA, topics.ConfigureZone{HoldQuantityMax: i64(0)}, topics.ReasonInvalidCommand},
		{"hold quantity max over capacity max", zoneA, topics.ConfigureZone{HoldQuantityMax: i64(topics.ZoneCapacityMax + 1)}, topics.ReasonInvalidCommand},
		{"customer limit negative", zoneA, topics.ConfigureZone{CustomerLimit: i64(-1)}, topics.ReasonInvalidCommand},
		{"customer limit over capacity max", zoneA, topics.ConfigureZone{CustomerLimit: i64(topics.ZoneCapacityMax + 1)}, topics.ReasonInvalidCommand},
		{"name too long", zoneA, topics.ConfigureZone{ZoneName: strings.Repeat("x", topics.TextBytesMax+1)}, topics.ReasonInvalidCommand},
		{"too many zones", testID('Z', 9), topics.ConfigureZone{EventName: "e", ZoneName: "z", Capacity: i64(1)}, topics.ReasonPartitionFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			h.createZone(zoneA, 10, topics.ConfigureZone{})
			h.createZone(testID('Z', 8), 10, topics.ConfigureZone{})
			h.place(zoneA, 5, "")
			before := h.s.Stats()
			ev := h.apply(h.configureCmd(tc.zone, tc.c))
			wantRejected(t, ev, tc.reason)
			if tc.zone == zoneA {
				wantInventory(t, ev.Zone, 10, 5, 5, 0)
			}
			if h.s.Stats() != before {
				t.Fatalf("stats changed: %+v -> %+v", before, h.s.Stats())
			}
		})
	}
}

func TestPlaceHold(t *testing.T) {
	// Proves a placed hold takes its tickets, is named by the request id and expires after the zone's TTL.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{HoldTTLSeconds: i64(30)})
	h.now = t0.Add(time.Second)
	cmd := h.placeCmd(zoneA, 4, "alice", "")
	ev := h.apply(cmd)
	wantType(t, ev, topics.OutHoldPlaced)
	want := topics.Hold{ID: cmd.RequestID, Status: topics.HoldActive, Quantity: 4, CustomerID: "alice",
		CreatedAt: h.now, ExpiresAt: h.now.Add(30 * time.Second)}
	if *ev.Hold != want {
		t.Fatalf("hold %+v, want %+v", *ev.Hold, want)
	}
	wantInventory(t, ev.Zone, 10, 6, 4, 0)
	if next, ok := h.s.NextExpiry(); !ok || !next.Equal(want.ExpiresAt) {
		t.Fatalf("NextExpiry %v %v", next, ok)
	}
}

func TestPlaceRejections(t *testing.T) {
	// Proves every place rejection reason; insufficient capacity says how many tickets are left.
	cfg := DefaultConfig()
	cfg.HoldsMax = 2
	for _, tc := range []struct {
		name      string
		zone      uuid.UUID
		qty       int64
		customer  string
		reason    topics.Reason
		available int64
	}{
		{"unknown zone", zoneB, 1, "", topics.ReasonZoneNotFound, 0},
		{"quantity 0", zoneA, 0, "", topics.ReasonInvalidCommand, 0},
		{"quantity negative", zoneA, -2, "", topics.ReasonInvalidCommand, 0},
		{"quantity over hold limit", zoneA, 6, "", topics.ReasonQuantityOverLimit, 0},
		{"customer id too long", zoneA, 1, strings.Repeat("c", topics.TextBytesMax+1), topics.ReasonInvalidCommand, 0},
		{"customer over limit", zoneA, 2, "alice", topics.ReasonCustomerLimitExceeded, 0},
		{"not enough tickets", zoneA, 5, "", topics.ReasonInsufficientCapacity, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, cfg)
			h.createZone(zoneA, 8, topics.ConfigureZone{HoldQuantityMax: i64(5), CustomerLimit: i64(5)})
			h.place(zoneA, 4, "alice")
			h.now = h.now.Add(time.Second)
			ev := h.apply(h.placeCmd(tc.zone, tc.qty, tc.customer, ""))
			wantRejected(t, ev, tc.reason)
			if ev.Rejection.Available != tc.available {
				t.Fatalf("available %d, want %d", ev.Rejection.Available, tc.available)
			}
		})
	}
	t.Run("partition full", func(t *testing.T) {
		h := newHarness(t, cfg)
		h.createZone(zoneA, 8, topics.ConfigureZone{})
		h.place(zoneA, 1, "")
		h.place(zoneA, 1, "")
		wantRejected(t, h.apply(h.placeCmd(zoneA, 1, "", "")), topics.ReasonPartitionFull)
	})
	t.Run("duplicate request id", func(t *testing.T) {
		h := newHarness(t, cfg)
		h.createZone(zoneA, 8, topics.ConfigureZone{})
		cmd := h.placeCmd(zoneA, 1, "", "")
		wantType(t, h.apply(cmd), topics.OutHoldPlaced)
		again := *cmd
		wantRejected(t, h.apply(&again), topics.ReasonInvalidCommand)
	})
}

func TestCustomerLimitCountsHoldsAndOrders(t *testing.T) {
	// Proves a customer's active holds plus orders count against the zone's limit, and released or expired holds give theirs back.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 100, topics.ConfigureZone{CustomerLimit: i64(5), HoldTTLSeconds: i64(10)})
	h.createZone(zoneB, 100, topics.ConfigureZone{CustomerLimit: i64(5)})
	ordered := h.place(zoneA, 2, "bob")
	wantType(t, h.apply(h.confirmCmd(zoneA, ordered, "c1")), topics.OutHoldConfirmed)
	released := h.place(zoneA, 3, "bob")
	wantRejected(t, h.apply(h.placeCmd(zoneA, 1, "bob", "")), topics.ReasonCustomerLimitExceeded)
	h.place(zoneB, 5, "bob") // another zone counts apart
	h.place(zoneA, 1, "carol")
	h.place(zoneA, 1, "") // no customer, no limit
	wantType(t, h.apply(h.releaseCmd(zoneA, released, "")), topics.OutHoldReleased)
	h.place(zoneA, 3, "bob")
	h.now = h.now.Add(10 * time.Second) // the 3 expire
	h.place(zoneA, 3, "bob")
	wantRejected(t, h.apply(h.placeCmd(zoneA, 1, "bob", "")), topics.ReasonCustomerLimitExceeded)
}

func TestConfirmHold(t *testing.T) {
	// Proves a confirm turns a hold into an order named by the confirm's request id, and a retry with the key replays it.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{})
	hold := h.place(zoneA, 3, "dave")
	h.now = h.now.Add(time.Minute)
	cmd := h.confirmCmd(zoneA, hold, "pay-1")
	ev := h.apply(cmd)
	wantType(t, ev, topics.OutHoldConfirmed)
	if ev.Hold.Status != topics.HoldConfirmed || ev.Order.ID != cmd.RequestID || ev.Order.HoldID != hold ||
		ev.Order.Quantity != 3 || ev.Order.CustomerID != "dave" || !ev.Order.CreatedAt.Equal(h.now) {
		t.Fatalf("hold %+v order %+v", ev.Hold, ev.Order)
	}
	wantInventory(t, ev.Zone, 10, 7, 0, 3)
	retry := h.confirmCmd(zoneA, hold, "pay-1")
	ev = h.apply(retry)
	wantType(t, ev, topics.OutRequestReplayed)
	want := topics.Replay{OriginalRequestID: cmd.RequestID, OriginalType: topics.OutHoldConfirmed, HoldID: hold, OrderID: cmd.RequestID}
	if *ev.Replay != want || ev.RequestID != retry.RequestID {
		t.Fatalf("replay %+v, want %+v", *ev.Replay, want)
	}
	wantRejected(t, h.apply(h.confirmCmd(zoneA, hold, "pay-2")), topics.ReasonHoldAlreadyConfirmed)
	wantRejected(t, h.apply(h.releaseCmd(zoneA, hold, "")), topics.ReasonHoldAlreadyConfirmed)
}

func TestResolveRejections(t *testing.T) {
	// Proves the specific reason for confirming or releasing a hold that is unknown, elsewhere, released or expired.
	for _, typ := range []topics.CommandType{topics.CmdConfirmHold, topics.CmdReleaseHold} {
		t.Run(string(typ), func(t *testing.T) {
			h := newHarness(t, DefaultConfig())
			h.createZone(zoneA, 10, topics.ConfigureZone{HoldTTLSeconds: i64(10)})
			h.createZone(zoneB, 10, topics.ConfigureZone{})
			n := 0
			resolve := func(zone, hold uuid.UUID) topics.Outcome {
				n++
				key := "k" + string(rune('0'+n))
				if typ == topics.CmdConfirmHold {
					return h.apply(h.confirmCmd(zone, hold, key))
				}
				return h.apply(h.releaseCmd(zone, hold, key))
			}
			wantRejected(t, resolve(testID('Z', 7), testID('H', 1)), topics.ReasonZoneNotFound)
			wantRejected(t, resolve(zoneA, testID('H', 1)), topics.ReasonHoldNotFound)
			inB := h.place(zoneB, 1, "")
			wantRejected(t, resolve(zoneA, inB), topics.ReasonHoldNotFound)
			released := h.place(zoneA, 1, "")
			wantType(t, h.apply(h.releaseCmd(zoneA, released, "")), topics.OutHoldReleased)
			wantRejected(t, resolve(zoneA, released), topics.ReasonHoldAlreadyReleased)
			expiring := h.place(zoneA, 2, "")
			h.now = h.now.Add(10 * time.Second) // exactly expires_at: expired
			evs := h.applyAll(h.confirmCmd(zoneA, expiring, "late"))
			if len(evs) != 2 || evs[0].Type != topics.OutHoldExpired || evs[0].Hold.ID != expiring {
				t.Fatalf("want the expiry before the answer, got %d events", len(evs))
			}
			wantRejected(t, evs[1], topics.ReasonHoldExpired)
			wantRejected(t, resolve(zoneA, expiring), topics.ReasonHoldExpired)
		})
	}
	t.Run("confirm without key", func(t *testing.T) {
		h := newHarness(t, DefaultConfig())
		h.createZone(zoneA, 10, topics.ConfigureZone{})
		hold := h.place(zoneA, 1, "")
		wantRejected(t, h.apply(h.confirmCmd(zoneA, hold, "")), topics.ReasonInvalidCommand)
	})
}

func TestReleaseHold(t *testing.T) {
	// Proves a release gives the tickets back, once; a second release says already released.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{})
	hold := h.place(zoneA, 4, "")
	ev := h.apply(h.releaseCmd(zoneA, hold, ""))
	wantType(t, ev, topics.OutHoldReleased)
	if ev.Hold.Status != topics.HoldReleased || ev.Hold.ID != hold {
		t.Fatalf("hold %+v", ev.Hold)
	}
	wantInventory(t, ev.Zone, 10, 10, 0, 0)
	wantRejected(t, h.apply(h.releaseCmd(zoneA, hold, "")), topics.ReasonHoldAlreadyReleased)
	if _, ok := h.s.NextExpiry(); ok {
		t.Fatal("a released hold still has an expiry")
	}
}

func TestExpiryOrder(t *testing.T) {
	// Proves holds expire in expires_at order across zones and TTL changes (including a TTL decrease), ties by placement.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 100, topics.ConfigureZone{HoldTTLSeconds: i64(60)})
	h.createZone(zoneB, 100, topics.ConfigureZone{HoldTTLSeconds: i64(30)})
	a1 := h.place(zoneA, 1, "") // expires t0+60
	b1 := h.place(zoneB, 1, "") // t0+30
	h.now = t0.Add(30 * time.Second)
	evs := h.applyAll(h.configureCmd(zoneA, topics.ConfigureZone{HoldTTLSeconds: i64(20)}))
	if len(evs) != 2 || evs[0].Hold.ID != b1 {
		t.Fatalf("b1 did not expire at its expires_at: %d events", len(evs))
	}
	a2 := h.place(zoneA, 1, "") // t0+50: the TTL decrease puts it before a1
	h.now = t0.Add(40 * time.Second)
	a3 := h.place(zoneA, 1, "")      // t0+60: ties with a1, placed later
	b2 := h.place(zoneB, 1, "")      // t0+70
	h.now = t0.Add(20 * time.Second) // backwards: clamped, nothing happens
	ev := h.apply(h.configureCmd(zoneA, topics.ConfigureZone{HoldTTLSeconds: i64(30)}))
	if !ev.Time.Equal(t0.Add(40 * time.Second)) {
		t.Fatalf("clock went backwards to %v", ev.Time)
	}
	var got []uuid.UUID
	var times []time.Time
	for _, ev := range h.s.Advance(nil, t0.Add(time.Hour)) {
		wantType(t, ev, topics.OutHoldExpired)
		got = append(got, ev.Hold.ID)
		times = append(times, ev.Hold.ExpiresAt)
	}
	want := []uuid.UUID{a2, a1, a3, b2}
	if len(got) != len(want) {
		t.Fatalf("expired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("expiry %d: %v (at %v), want %v", i, got[i], times[i], want[i])
		}
	}
	if err := h.s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestIdempotency(t *testing.T) {
	// Proves same key + same payload replays (rejections too), another payload conflicts without being remembered, keys are per zone.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 5, topics.ConfigureZone{})
	h.createZone(zoneB, 5, topics.ConfigureZone{})
	first := h.placeCmd(zoneA, 2, "eve", "key-1")
	placed := h.apply(first)
	wantType(t, placed, topics.OutHoldPlaced)
	ev := h.apply(h.placeCmd(zoneA, 2, "eve", "key-1"))
	wantType(t, ev, topics.OutRequestReplayed)
	if ev.Replay.OriginalRequestID != first.RequestID || ev.Replay.OriginalType != topics.OutHoldPlaced ||
		ev.Replay.HoldID != placed.Hold.ID || ev.IdempotencyKey != "key-1" {
		t.Fatalf("replay %+v", ev.Replay)
	}
	wantInventory(t, ev.Zone, 5, 3, 2, 0)
	wantRejected(t, h.apply(h.placeCmd(zoneA, 3, "eve", "key-1")), topics.ReasonIdempotencyConflict)
	wantRejected(t, h.apply(h.placeCmd(zoneA, 2, "", "key-1")), topics.ReasonIdempotencyConflict)
	wantType(t, h.apply(h.placeCmd(zoneA, 2, "eve", "key-1")), topics.OutRequestReplayed)
	wantType(t, h.apply(h.placeCmd(zoneB, 3, "eve", "key-1")), topics.OutHoldPlaced) // another zone

	// A rejection is remembered: more capacity later does not change the answer.
	tooMany := h.placeCmd(zoneA, 4, "", "key-2")
	wantRejected(t, h.apply(tooMany), topics.ReasonInsufficientCapacity)
	wantType(t, h.apply(h.configureCmd(zoneA, topics.ConfigureZone{Capacity: i64(50)})), topics.OutZoneConfigured)
	ev = h.apply(h.placeCmd(zoneA, 4, "", "key-2"))
	wantType(t, ev, topics.OutRequestReplayed)
	wantRej := topics.Rejection{Reason: topics.ReasonInsufficientCapacity, Message: "not enough tickets available", Available: 3}
	if ev.Replay.Rejection == nil || *ev.Replay.Rejection != wantRej || ev.Replay.OriginalRequestID != tooMany.RequestID {
		t.Fatalf("replay %+v", ev.Replay)
	}
	if ev.Replay.Rejection == nil || ev.Replay.OriginalType != topics.OutRequestRejected {
		t.Fatalf("replay type %s", ev.Replay.OriginalType)
	}
	// Configure commands are fingerprinted too.
	cfg := h.configureCmd(zoneA, topics.ConfigureZone{Capacity: i64(60)})
	cfg.IdempotencyKey = "cfg"
	wantType(t, h.apply(cfg), topics.OutZoneConfigured)
	again := h.configureCmd(zoneA, topics.ConfigureZone{Capacity: i64(60)})
	again.IdempotencyKey = "cfg"
	wantType(t, h.apply(again), topics.OutRequestReplayed)
	other := h.configureCmd(zoneA, topics.ConfigureZone{Capacity: i64(60), CustomerLimit: i64(0)})
	other.IdempotencyKey = "cfg"
	wantRejected(t, h.apply(other), topics.ReasonIdempotencyConflict)
}

func TestIdempotencyRetention(t *testing.T) {
	// Proves keys and resolved holds are forgotten once IdempotencyRetention has passed, read model or not.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 100, topics.ConfigureZone{})
	hold := h.place(zoneA, 1, "")
	wantType(t, h.apply(h.confirmCmd(zoneA, hold, "k1")), topics.OutHoldConfirmed)
	h.now = h.now.Add(24*time.Hour - time.Nanosecond)
	wantType(t, h.apply(h.confirmCmd(zoneA, hold, "k1")), topics.OutRequestReplayed)
	h.now = h.now.Add(time.Nanosecond)
	wantRejected(t, h.apply(h.confirmCmd(zoneA, hold, "k1")), topics.ReasonHoldNotFound)
	if st := h.s.Stats(); st.Keys != 1 || st.ResolvedHolds != 0 || st.KeysEvictedEarly != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestKeysMaxNeverForgetsAKeyTheReadModelLacks(t *testing.T) {
	// Proves a retry after KeysMax other keys is still a replay (no second hold) while the read model may lack
	// its key: new keys are rejected partition_full instead, and room is made only from keys it has.
	cfg := DefaultConfig()
	cfg.KeysMax = 3
	h := newHarness(t, cfg)
	h.createZone(zoneA, 100, topics.ConfigureZone{})
	first := h.apply(h.placeCmd(zoneA, 1, "", "retried"))
	wantType(t, first, topics.OutHoldPlaced)
	h.now = h.now.Add(time.Minute)
	for i := range 2 * cfg.KeysMax {
		ev := h.apply(h.placeCmd(zoneA, 1, "", fmt.Sprintf("other-%d", i)))
		if i < cfg.KeysMax-1 {
			wantType(t, ev, topics.OutHoldPlaced)
		} else {
			wantRejected(t, ev, topics.ReasonPartitionFull)
		}
	}
	retry := h.apply(h.placeCmd(zoneA, 1, "", "retried"))
	wantType(t, retry, topics.OutRequestReplayed)
	if retry.Replay.HoldID != first.Hold.ID {
		t.Fatalf("replay names hold %s, want %s", retry.Replay.HoldID, first.Hold.ID)
	}
	if st := h.s.Stats(); st.ActiveHolds != cfg.KeysMax || st.KeysEvictedEarly != 0 || st.KeysRejectedFull != int64(cfg.KeysMax+1) {
		t.Fatalf("stats %+v", st)
	}

	// The read model has the decisions up to t0 (the first key) only: one key may go.
	h.s.SetSunkThrough(t0)
	wantType(t, h.apply(h.placeCmd(zoneA, 1, "", "after-sunk")), topics.OutHoldPlaced)
	wantRejected(t, h.apply(h.placeCmd(zoneA, 1, "", "one-more")), topics.ReasonPartitionFull)
	// Decisions made after SetSunkThrough are not covered by it, even at an earlier clock time.
	h.s.SetSunkThrough(h.now)
	for _, key := range []string{"one-more", "and-more", "third"} {
		wantType(t, h.apply(h.placeCmd(zoneA, 1, "", key)), topics.OutHoldPlaced)
	}
	wantRejected(t, h.apply(h.placeCmd(zoneA, 1, "", "too-many")), topics.ReasonPartitionFull)
	if st := h.s.Stats(); st.Keys != cfg.KeysMax || st.KeysEvictedEarly != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestResolvedHoldsBound(t *testing.T) {
	// Proves at most ResolvedHoldsMax resolved holds are remembered, the oldest forgotten first.
	cfg := DefaultConfig()
	cfg.ResolvedHoldsMax = 2
	h := newHarness(t, cfg)
	h.createZone(zoneA, 100, topics.ConfigureZone{})
	var holds []uuid.UUID
	for range 3 {
		id := h.place(zoneA, 1, "")
		wantType(t, h.apply(h.releaseCmd(zoneA, id, "")), topics.OutHoldReleased)
		holds = append(holds, id)
	}
	wantRejected(t, h.apply(h.releaseCmd(zoneA, holds[0], "")), topics.ReasonHoldNotFound)
	wantRejected(t, h.apply(h.releaseCmd(zoneA, holds[1], "")), topics.ReasonHoldAlreadyReleased)
	if st := h.s.Stats(); st.ResolvedHolds != 2 || st.ResolvedEvictedEarly != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestMalformedCommands(t *testing.T) {
	// Proves a command whose payload does not match its type is rejected as invalid and changes nothing.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{})
	for _, cmd := range []*topics.Command{
		h.cmd(topics.CmdPlaceHold, zoneA, "k"),
		h.cmd(topics.CmdConfirmHold, zoneA, "k"),
		h.cmd(topics.CmdReleaseHold, zoneA, ""),
		h.cmd(topics.CmdConfigureZone, zoneA, ""),
		h.cmd("hold.steal", zoneA, ""),
		h.placeCmd(zoneA, 1, "", strings.Repeat("k", topics.TextBytesMax+1)),
	} {
		wantRejected(t, h.apply(cmd), topics.ReasonInvalidCommand)
	}
	nilID := h.placeCmd(zoneA, 1, "", "")
	nilID.RequestID = uuid.Nil
	wantRejected(t, h.s.Apply(nil, nilID, h.now)[0], topics.ReasonInvalidCommand)
	if st := h.s.Stats(); st.Keys != 0 || st.ActiveHolds != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBacklogAfterDowntimeJudgedAtAppendTimes(t *testing.T) {
	// Proves a backlog applied long after a downtime longer than the TTL decides as it would have live:
	// each command at its append time, so queued confirms of holds then active succeed, events carry the
	// append times, and only the hold whose TTL ran out before its command expires.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{HoldTTLSeconds: i64(60)})
	var holds []uuid.UUID
	for i := range 3 {
		h.now = t0.Add(time.Duration(i) * 10 * time.Second)
		holds = append(holds, h.place(zoneA, 2, ""))
	}
	// The processor was down from here for two hours; the commands below were appended to the log during
	// that time and are applied afterwards, each with its append time as now.
	backlog := []struct {
		at   time.Duration
		cmd  *topics.Command
		want topics.OutcomeType
	}{
		{30 * time.Second, h.confirmCmd(zoneA, holds[0], "pay-0"), topics.OutHoldConfirmed},
		{69 * time.Second, h.confirmCmd(zoneA, holds[1], "pay-1"), topics.OutHoldConfirmed},
		{90 * time.Second, h.confirmCmd(zoneA, holds[2], "pay-2"), topics.OutRequestRejected},
	}
	for _, b := range backlog {
		h.now = t0.Add(b.at)
		evs := h.applyAll(b.cmd)
		ev := evs[len(evs)-1]
		wantType(t, ev, b.want)
		if !ev.Time.Equal(h.now) {
			t.Fatalf("decided at %v, want the append time %v", ev.Time, h.now)
		}
		if b.want == topics.OutRequestRejected {
			wantRejected(t, ev, topics.ReasonHoldExpired)
			if len(evs) != 2 || evs[0].Hold.ID != holds[2] || !evs[0].Time.Equal(t0.Add(90*time.Second)) {
				t.Fatalf("want hold %s expired first, got %d events", holds[2], len(evs))
			}
		}
	}
	// Caught up, the clock moves on with wall time: nothing is left to expire.
	if evs := h.s.Advance(nil, t0.Add(2*time.Hour)); len(evs) != 0 {
		t.Fatalf("%d events after the backlog", len(evs))
	}
	wantInventory(t, h.apply(h.placeCmd(zoneA, 1, "", "")).Zone, 10, 5, 1, 4)
}
