package zone

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// drainAll returns the latest value per key of everything s drained so far.
func drainAll(s *State, log map[string][]byte) {
	s.DrainChanges(func(key, value []byte) {
		if value != nil {
			value = append([]byte(nil), value...)
		}
		log[string(key)] = value
	})
}

func rebuildFrom(t *testing.T, cfg Config, log map[string][]byte) *State {
	t.Helper()
	r := NewState(cfg)
	for k, v := range log {
		if err := r.Rebuild([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.FinishRebuild(); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRebuildRoundTrip(t *testing.T) {
	// Proves a State rebuilt from its drained records has the same counts, clock and expiry, and answers alike.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 20, topics.ConfigureZone{CustomerLimit: i64(6), HoldTTLSeconds: i64(60)})
	confirmed := h.place(zoneA, 2, "ann")
	h.apply(h.confirmCmd(zoneA, confirmed, "pay"))
	h.place(zoneA, 3, "ann")
	h.apply(h.placeCmd(zoneA, 30, "", "too-many"))
	log := map[string][]byte{}
	drainAll(h.s, log)
	for k := range log {
		if !strings.ContainsRune("czhku", rune(k[0])) {
			t.Fatalf("unexpected record kind %q", k[0])
		}
	}
	r := rebuildFrom(t, DefaultConfig(), log)
	if r.Stats() != h.s.Stats() || !r.Clock().Equal(h.s.Clock()) {
		t.Fatalf("rebuilt %+v at %v, want %+v at %v", r.Stats(), r.Clock(), h.s.Stats(), h.s.Clock())
	}
	a, _ := r.NextExpiry()
	b, _ := h.s.NextExpiry()
	if !a.Equal(b) {
		t.Fatalf("next expiry %v, want %v", a, b)
	}
	h.s = r
	wantRejected(t, h.apply(h.placeCmd(zoneA, 2, "ann", "")), topics.ReasonCustomerLimitExceeded)
	wantType(t, h.apply(h.confirmCmd(zoneA, confirmed, "pay")), topics.OutRequestReplayed)
	ev := h.apply(h.placeCmd(zoneA, 30, "", "too-many"))
	if ev.Type != topics.OutRequestReplayed || ev.Replay.Rejection.Reason != topics.ReasonQuantityOverLimit {
		t.Fatalf("replay %+v", ev.Replay)
	}
	h.now = h.now.Add(time.Hour)
	if evs := h.s.Advance(nil, h.now); len(evs) != 1 || evs[0].Type != topics.OutHoldExpired {
		t.Fatalf("want one expiry after rebuild, got %d events", len(evs))
	}
}

func TestRebuildRejectsBadRecords(t *testing.T) {
	// Proves corrupt, unknown or inconsistent changelog records are errors, not panics or silent state.
	zoneKey := append([]byte{recZone}, zoneA[:]...)
	holdID := testID('H', 1)
	holdKey := append([]byte{recHold}, holdID[:]...)
	for name, recs := range map[string][][2][]byte{
		"empty key":        {{{}, {changelogVersion}}},
		"unknown kind":     {{[]byte("x"), {changelogVersion}}},
		"unknown version":  {{zoneKey, {99}}},
		"truncated zone":   {{zoneKey, {changelogVersion, 1, 2}}},
		"short zone key":   {{zoneKey[:5], {changelogVersion}}},
		"truncated hold":   {{holdKey, {changelogVersion, 1}}},
		"trailing bytes":   {{[]byte{recClock}, append(make([]byte, 9), 0, 0, 0, 7)}},
		"hold of no zone":  nil, // built below
		"held not matched": nil,
	} {
		t.Run(name, func(t *testing.T) {
			if recs == nil {
				recs = inconsistent(t, name)
			}
			recs[0][1] = append([]byte(nil), recs[0][1]...)
			if name == "trailing bytes" {
				recs[0][1][0] = changelogVersion
			}
			r := NewState(DefaultConfig())
			var err error
			for _, rec := range recs {
				if err = r.Rebuild(rec[0], rec[1]); err != nil {
					break
				}
			}
			if err == nil {
				err = r.FinishRebuild()
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// inconsistent builds well-formed records that contradict each other.
func inconsistent(t *testing.T, name string) [][2][]byte {
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{})
	h.place(zoneA, 2, "")
	log := map[string][]byte{}
	drainAll(h.s, log)
	var recs [][2][]byte
	for k, v := range log {
		switch {
		case name == "hold of no zone" && k[0] == recZone:
			continue
		case name == "held not matched" && k[0] == recHold:
			continue
		}
		recs = append(recs, [2][]byte{[]byte(k), v})
	}
	return recs
}

// record is one changelog record as the topic holds it: every version, in write order.
type record struct {
	key   string
	value []byte // nil = tombstone
}

// drainInto appends everything s drained to log, in order, as one transaction would.
func drainInto(s *State, log *[]record) {
	s.DrainChanges(func(key, value []byte) {
		if value != nil {
			value = append([]byte(nil), value...)
		}
		*log = append(*log, record{string(key), value})
	})
}

// rebuildLog rebuilds a State from every record of log, in order.
func rebuildLog(t testing.TB, cfg Config, log []record) *State {
	t.Helper()
	r := NewState(cfg)
	for _, rec := range log {
		if err := r.Rebuild([]byte(rec.key), rec.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.FinishRebuild(); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRebuildMultiVersionHold(t *testing.T) {
	// Proves a hold written twice (placed in one transaction, resolved in a later one) and rebuilt from both
	// versions can be forgotten afterwards: by retention, by ResolvedHoldsMax, or by a tombstone in the log.
	for _, how := range []string{"retention", "resolved bound", "tombstone"} {
		t.Run(how, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ResolvedHoldsMax = 1
			h := newHarness(t, cfg)
			h.createZone(zoneA, 10, topics.ConfigureZone{})
			id := h.place(zoneA, 2, "ann")
			var log []record
			drainInto(h.s, &log)
			h.now = h.now.Add(time.Second)
			wantType(t, h.apply(h.confirmCmd(zoneA, id, "pay")), topics.OutHoldConfirmed)
			drainInto(h.s, &log)
			if how == "tombstone" {
				h.now = h.now.Add(cfg.IdempotencyRetention)
				h.s.Advance(nil, h.now)
				drainInto(h.s, &log)
			}
			versions := 0
			for _, rec := range log {
				if rec.key == string(append([]byte{recHold}, id[:]...)) {
					versions++
				}
			}
			if versions < 2 {
				t.Fatalf("hold written %d times, want a multi-version log", versions)
			}
			h.s = rebuildLog(t, cfg, log)
			switch how {
			case "retention":
				h.now = h.now.Add(cfg.IdempotencyRetention)
				h.s.Advance(nil, h.now)
			case "resolved bound":
				other := h.place(zoneA, 1, "")
				wantType(t, h.apply(h.releaseCmd(zoneA, other, "")), topics.OutHoldReleased)
				wantRejected(t, h.apply(h.confirmCmd(zoneA, id, "late")), topics.ReasonHoldNotFound)
			}
			if st := h.s.Stats(); st.ResolvedHolds > 1 {
				t.Fatalf("stats %+v", st)
			}
			if err := h.s.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConsumedRoundTrip(t *testing.T) {
	// Proves the consumed command offset is written with the clock record, rebuilt from the newest version,
	// absent for a new state, and that a clock record written before the field existed still rebuilds.
	if _, ok := NewState(DefaultConfig()).Consumed(); ok {
		t.Fatal("new state has a consumed offset")
	}
	if _, ok := rebuildLog(t, DefaultConfig(), nil).Consumed(); ok {
		t.Fatal("empty rebuild has a consumed offset")
	}
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 10, topics.ConfigureZone{})
	var log []record
	for _, next := range []int64{0, 41, 57} {
		h.s.SetConsumed(next)
		drainInto(h.s, &log) // a new offset alone is a change to write
		if got, ok := rebuildLog(t, DefaultConfig(), log).Consumed(); !ok || got != next {
			t.Fatalf("rebuilt consumed %d %v, want %d", got, ok, next)
		}
	}
	n := len(log)
	drainInto(h.s, &log)
	if len(log) != n {
		t.Fatalf("nothing changed, yet %d records drained", len(log)-n)
	}
	r := rebuildLog(t, DefaultConfig(), log)
	r.DrainChanges(func(key, _ []byte) { t.Fatalf("rebuilt state has a change: %q", key) })

	// The clock record as written before the consumed offset was recorded.
	old := binary.LittleEndian.AppendUint64([]byte{changelogVersion}, uint64(t0.UnixNano()))
	old = append(old, 9, 0, 0)
	r = rebuildLog(t, DefaultConfig(), []record{{string([]byte{recClock}), old}})
	if _, ok := r.Consumed(); ok || !r.Clock().Equal(t0) {
		t.Fatalf("old clock record rebuilt as consumed %v, clock %v", ok, r.Clock())
	}
}

// fuzzBase is a small valid changelog: a zone with a customer's order, an active, a
// confirmed and a released hold, and remembered keys, one of a configure.
func fuzzBase(t testing.TB) []record {
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 20, topics.ConfigureZone{CustomerLimit: i64(8), HoldTTLSeconds: i64(60)})
	cfg := h.configureCmd(zoneA, topics.ConfigureZone{HoldQuantityMax: i64(5)})
	cfg.IdempotencyKey = "cfg"
	h.s.Apply(nil, cfg, h.now)
	h.s.SetConsumed(7)
	var log []record
	drainInto(h.s, &log)
	for i, key := range []string{"pay", "", "rel"} {
		h.now = h.now.Add(time.Second)
		ev := h.s.Apply(nil, h.placeCmd(zoneA, int64(1+i), "ann", ""), h.now)
		id := ev[len(ev)-1].Hold.ID
		switch i {
		case 0:
			h.s.Apply(nil, h.confirmCmd(zoneA, id, key), h.now)
		case 2:
			h.s.Apply(nil, h.releaseCmd(zoneA, id, key), h.now)
		}
		drainInto(h.s, &log)
	}
	h.s.Apply(nil, h.placeCmd(zoneA, 9, "", "too-many"), h.now)
	drainInto(h.s, &log)
	if err := rebuildLog(t, DefaultConfig(), log).Check(); err != nil {
		t.Fatal(err)
	}
	return log
}

// FuzzRebuildRecord feeds one arbitrary record after a valid changelog. Rebuild and
// FinishRebuild must never panic; a state they accept must pass Check and go on
// deciding; a record that rebuilds is written back by the state as it was read.
func FuzzRebuildRecord(f *testing.F) {
	base := fuzzBase(f)
	for _, rec := range base {
		f.Add([]byte(rec.key), rec.value, rec.value == nil)
	}
	f.Add([]byte{recClock}, []byte{changelogVersion}, false)
	f.Add([]byte("x"), []byte{changelogVersion, 0xff}, false)
	f.Add([]byte{}, []byte{}, false)
	f.Fuzz(func(t *testing.T, key, value []byte, tombstone bool) {
		if tombstone {
			value = nil
		} else if value == nil {
			value = []byte{}
		}
		s := NewState(DefaultConfig())
		for _, rec := range base {
			if err := s.Rebuild([]byte(rec.key), rec.value); err != nil {
				t.Fatal(err)
			}
		}
		if s.Rebuild(key, value) != nil || s.FinishRebuild() != nil {
			return
		}
		if err := s.Check(); err != nil {
			t.Fatalf("rebuild accepted %q = %x, state fails Check: %v", key, value, err)
		}
		if value != nil {
			if again := reencode(s, key); again != string(value) && !canonicalAgain(t, key, again) {
				t.Fatalf("record %q = %x written back as %x", key, value, again)
			}
		}
		h := &harness{t: t, s: s, now: s.Clock().Add(time.Second)}
		h.apply(h.placeCmd(zoneA, 1, "ann", "fuzz"))
		h.now = h.now.Add(48 * time.Hour)
		h.apply(h.placeCmd(zoneA, 1, "", ""))
	})
}

// reencode encodes the entity key names in s as its changelog record value.
func reencode(s *State, key []byte) string {
	switch rest := key[1:]; key[0] {
	case recClock:
		return string(encodeClock(nil, s.clockNow()))
	case recZone:
		return string(encodeZone(nil, s.zones[uuid.UUID(rest)]))
	case recHold:
		return string(encodeHold(nil, s.hold(uuid.UUID(rest))))
	case recKey:
		return string(encodeKey(nil, s.key(keyID{zone: uuid.UUID(rest[:16]), key: string(rest[16:])})))
	case recCustomer:
		ct := s.zones[uuid.UUID(rest[:16])].customers[string(rest[16:])]
		return string(binary.AppendVarint([]byte{changelogVersion}, ct.ordered))
	}
	panic("unknown record kind")
}

// canonicalAgain reports whether value, a state's own encoding of the record key,
// rebuilds and is written back unchanged: an input in a longer form than the
// encoder's (a varint padded with zero groups) rebuilds to the same state.
func canonicalAgain(t *testing.T, key []byte, value string) bool {
	s := NewState(DefaultConfig())
	for _, rec := range fuzzBase(t) {
		if err := s.Rebuild([]byte(rec.key), rec.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Rebuild(key, []byte(value)); err != nil || s.FinishRebuild() != nil {
		return false
	}
	return reencode(s, key) == value
}

func TestRebuildWritesRecordsBack(t *testing.T) {
	// Proves every record of a real changelog is written back byte for byte by the state rebuilt from it.
	log := fuzzBase(t)
	s := rebuildLog(t, DefaultConfig(), log)
	latest := map[string][]byte{}
	for _, rec := range log {
		latest[rec.key] = rec.value
	}
	for key, value := range latest {
		if value == nil {
			continue
		}
		if got := reencode(s, []byte(key)); got != string(value) {
			t.Fatalf("record %q = %x written back as %x", key, value, got)
		}
	}
}
