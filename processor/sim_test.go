package processor

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

var (
	simSeed  = flag.Uint64("sim.seed", 0, "simulation seed to replay (0 = a new one)")
	simSteps = flag.Int("sim.steps", 100_000, "simulation steps")
)

// simConfig is small so that every bound is reached often.
func simConfig() Config {
	return Config{
		HoldTTLDefault: 30 * time.Second, HoldTTLMin: 10 * time.Second, HoldTTLMax: 60 * time.Second,
		HoldQuantityMaxDefault: 4, IdempotencyRetention: 30 * time.Minute,
		KeysMax: 60, HoldsMax: 25, ResolvedHoldsMax: 40, ZonesMax: 3,
	}
}

func TestSimulation(t *testing.T) {
	// Proves State matches a plain reference model event for event, with its invariants intact, over random
	// commands, clock jumps (backwards too) and crash/restore points from the drained changelog.
	seed := *simSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./processor -run TestSimulation -sim.seed=%d)", seed, seed)
	sim := &simulation{t: t, rng: rand.New(rand.NewPCG(seed, seed>>32)), cfg: simConfig(), log: map[string][]byte{}, seen: map[string]int{}, inventory: map[uuid.UUID]topics.Inventory{}}
	sim.s, sim.ref, sim.now = NewState(sim.cfg), newRefModel(sim.cfg), t0
	for i := range sim.zones {
		sim.zones[i] = testID('Z', uint64(i+1))
	}
	start := time.Now()
	var dst []topics.Event
	for sim.step = 0; sim.step < *simSteps; sim.step++ {
		sim.now = sim.nextNow()
		var got, want []topics.Event
		if sim.rng.IntN(100) < 3 {
			got, want = sim.s.Advance(dst[:0], sim.now), sim.ref.advance(sim.now)
		} else {
			cmd := sim.command()
			got, want = sim.s.Apply(dst[:0], cmd, sim.now), sim.ref.apply(cmd, sim.now)
			sim.learn(cmd, got)
		}
		sim.compare(got, want)
		for _, ev := range got {
			kind := string(ev.Type)
			if ev.Rejection != nil {
				kind += "/" + string(ev.Rejection.Reason)
			}
			sim.seen[kind]++
		}
		dst = got
		if sim.rng.IntN(100) < 30 {
			sim.drain()
		}
		if sim.rng.IntN(1000) < 2 {
			sim.crash()
		}
	}
	t.Logf("%d steps, %d restores, %v; final %+v", *simSteps, sim.restores, time.Since(start).Round(time.Millisecond), sim.s.Stats())
	t.Logf("events seen: %v", sim.seen)
}

type simulation struct {
	t         *testing.T
	rng       *rand.Rand
	cfg       Config
	s         *State
	ref       *refModel
	now       time.Time
	step      int
	zones     [4]uuid.UUID
	holds     []simHold         // holds placed, for confirms and releases
	keyed     []*topics.Command // recent commands with a key, for retries
	places    []*topics.Command // recent places, for duplicate request ids
	log       map[string][]byte // the compacted changelog: latest value per key
	restores  int
	inventory map[uuid.UUID]topics.Inventory // latest seen per zone
	seen      map[string]int
	n         uint64
}

type simHold struct{ zone, id uuid.UUID }

const simRecentMax = 200

func (sim *simulation) pct(p int) bool { return sim.rng.IntN(100) < p }

func (sim *simulation) nextNow() time.Time {
	switch r := sim.rng.IntN(1000); {
	case r < 50:
		if next, ok := sim.ref.nextExpiry(); ok {
			return next // exactly at an expires_at
		}
		return sim.now
	case r < 200:
		return sim.now
	case r < 950:
		return sim.now.Add(time.Duration(sim.rng.Int64N(int64(300 * time.Millisecond))))
	case r < 975:
		return sim.now.Add(10*time.Second + time.Duration(sim.rng.Int64N(int64(80*time.Second))))
	case r < 997:
		return sim.now.Add(-time.Duration(sim.rng.Int64N(int64(time.Minute)))) // clamped
	default:
		return sim.now.Add(time.Hour + time.Duration(sim.rng.Int64N(int64(2*time.Hour))))
	}
}

func (sim *simulation) newID(kind byte) uuid.UUID {
	sim.n++
	return testID(kind, sim.n)
}

func (sim *simulation) opt(p int, lo, hi int64) *int64 {
	if !sim.pct(p) {
		return nil
	}
	return i64(lo + sim.rng.Int64N(hi-lo+1))
}

func (sim *simulation) key(p int) string {
	if !sim.pct(p) {
		return ""
	}
	return fmt.Sprintf("key-%d", sim.rng.IntN(1_000_000))
}

func (sim *simulation) command() *topics.Command {
	cmd := &topics.Command{Version: 1, RequestID: sim.newID('R'), EventID: sim.newID('E'),
		ZoneID: sim.zones[sim.rng.IntN(len(sim.zones)-1)]}
	if sim.pct(3) {
		cmd.ZoneID = sim.zones[len(sim.zones)-1] // never created: ZonesMax is 3
	}
	switch r := sim.rng.IntN(100); {
	case r < 8 && len(sim.keyed) > 0: // a retry, same payload or not
		old := sim.keyed[sim.rng.IntN(len(sim.keyed))]
		c := *old
		c.RequestID = sim.newID('R')
		if sim.pct(40) {
			c.Place, c.Confirm, c.Release, c.Configure = nil, nil, nil, nil
			switch c.Type {
			case topics.CmdPlaceHold:
				c.Place = &topics.PlaceHold{Quantity: old.Place.Quantity + 1, CustomerID: old.Place.CustomerID}
			case topics.CmdConfirmHold:
				c.Confirm = &topics.ConfirmHold{HoldID: sim.newID('H')}
			case topics.CmdReleaseHold:
				c.Release = &topics.ReleaseHold{HoldID: sim.newID('H')}
			case topics.CmdConfigureZone:
				cfg := *old.Configure
				cfg.CustomerLimit = i64(7)
				c.Configure = &cfg
			}
		}
		return &c
	case r < 9 && len(sim.places) > 0: // a redelivered place: same request id
		c := *sim.places[sim.rng.IntN(len(sim.places))]
		return &c
	case r < 10: // a payload that does not match the type
		cmd.Type = []topics.CommandType{topics.CmdPlaceHold, topics.CmdConfirmHold, topics.CmdConfigureZone, "bogus"}[sim.rng.IntN(4)]
		cmd.IdempotencyKey = sim.key(50)
		return cmd
	case r < 15:
		sim.configure(cmd)
	case r < 58:
		cmd.Type, cmd.IdempotencyKey = topics.CmdPlaceHold, sim.key(40)
		cmd.Place = &topics.PlaceHold{Quantity: 1 + sim.rng.Int64N(3)}
		if sim.pct(10) {
			cmd.Place.Quantity = sim.rng.Int64N(8) - 1
		}
		if sim.pct(70) {
			cmd.Place.CustomerID = fmt.Sprintf("cust-%d", sim.rng.IntN(30))
		}
	case r < 83:
		cmd.Type, cmd.IdempotencyKey = topics.CmdConfirmHold, sim.key(97)
		cmd.Confirm = &topics.ConfirmHold{HoldID: sim.pickHold(cmd)}
	default:
		cmd.Type, cmd.IdempotencyKey = topics.CmdReleaseHold, sim.key(30)
		cmd.Release = &topics.ReleaseHold{HoldID: sim.pickHold(cmd)}
	}
	return cmd
}

func (sim *simulation) configure(cmd *topics.Command) {
	cmd.Type, cmd.IdempotencyKey = topics.CmdConfigureZone, sim.key(20)
	c := &topics.ConfigureZone{}
	if sim.pct(40) {
		c.EventName, c.ZoneName, c.Capacity = "Show", "Pit", i64(sim.rng.Int64N(60))
	} else if sim.pct(10) {
		c.EventName = "Show"
	}
	if c.Capacity == nil && sim.pct(60) {
		// Usually more than is taken (sold only grows), sometimes less.
		inv := sim.inventory[cmd.ZoneID]
		c.Capacity = i64(inv.Held + inv.Sold + sim.rng.Int64N(40) - 5)
	}
	c.HoldTTLSeconds = sim.opt(40, 5, 70)
	c.HoldQuantityMax = sim.opt(30, 0, 6)
	c.CustomerLimit = sim.opt(30, -1, 20)
	if c.CustomerLimit != nil && *c.CustomerLimit > 10 {
		*c.CustomerLimit = 0
	}
	cmd.Configure = c
	if sim.pct(5) {
		c.HoldTTLSeconds = nil // with a TTL but nothing else: a no-op update, or zone_not_found
		c.Capacity, c.HoldQuantityMax, c.CustomerLimit = nil, nil, nil
	}
}

// pickHold picks a known hold, usually in the command's zone, or an unknown id.
func (sim *simulation) pickHold(cmd *topics.Command) uuid.UUID {
	if len(sim.holds) == 0 || sim.pct(10) {
		return sim.newID('H')
	}
	recent := 8
	if sim.pct(20) {
		recent = 100
	}
	h := sim.holds[len(sim.holds)-1-sim.rng.IntN(min(len(sim.holds), recent))]
	if sim.pct(85) {
		cmd.ZoneID = h.zone
	}
	return h.id
}

// learn remembers what the command did, to build later commands from it.
func (sim *simulation) learn(cmd *topics.Command, evs []topics.Event) {
	remember := func(list []*topics.Command, c *topics.Command) []*topics.Command {
		if len(list) == simRecentMax {
			list = append(list[:0], list[1:]...)
		}
		return append(list, c)
	}
	wellFormed := cmd.Place != nil || cmd.Confirm != nil || cmd.Release != nil || cmd.Configure != nil
	if cmd.IdempotencyKey != "" && wellFormed {
		sim.keyed = remember(sim.keyed, cmd)
	}
	if cmd.Place != nil {
		sim.places = remember(sim.places, cmd)
	}
	for _, ev := range evs {
		if ev.Type != topics.EvRequestRejected || ev.Zone.Capacity != 0 {
			sim.inventory[ev.ZoneID] = ev.Zone
		}
	}
	if ev := evs[len(evs)-1]; ev.Type == topics.EvHoldPlaced {
		if len(sim.holds) == 10*simRecentMax {
			sim.holds = append(sim.holds[:0], sim.holds[len(sim.holds)/2:]...)
		}
		sim.holds = append(sim.holds, simHold{zone: ev.ZoneID, id: ev.Hold.ID})
	}
}

func (sim *simulation) compare(got, want []topics.Event) {
	t := sim.t
	t.Helper()
	norm := func(evs []topics.Event) []topics.Event {
		out := make([]topics.Event, len(evs))
		for i, ev := range evs {
			if ev.Rejection != nil {
				r := *ev.Rejection
				r.Message = ""
				ev.Rejection = &r
			}
			if ev.Replay != nil && ev.Replay.Rejection != nil {
				rp, r := *ev.Replay, *ev.Replay.Rejection
				r.Message = ""
				rp.Rejection = &r
				ev.Replay = &rp
			}
			out[i] = ev
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", " ")
		wj, _ := json.MarshalIndent(w, "", " ")
		t.Fatalf("step %d: events differ\ngot:  %s\nwant: %s", sim.step, gj, wj)
	}
	if err := sim.s.Check(); err != nil {
		t.Fatalf("step %d: %v", sim.step, err)
	}
	sim.compareState()
}

func (sim *simulation) compareState() {
	t := sim.t
	t.Helper()
	if g, w := sim.s.Stats(), sim.ref.stats(); g != w {
		t.Fatalf("step %d: stats %+v, want %+v", sim.step, g, w)
	}
	gt, gok := sim.s.NextExpiry()
	wt, wok := sim.ref.nextExpiry()
	if gok != wok || !gt.Equal(wt) || !sim.s.Clock().Equal(sim.ref.now()) {
		t.Fatalf("step %d: next expiry %v %v, clock %v; want %v %v, %v", sim.step, gt, gok, sim.s.Clock(), wt, wok, sim.ref.now())
	}
}

func (sim *simulation) drain() {
	sim.s.DrainChanges(func(key, value []byte) {
		if value != nil {
			value = append([]byte{}, value...)
		}
		sim.log[string(key)] = value
	})
}

// crash rebuilds the state from the changelog drained so far, fed in random order
// with random tombstones compacted away, and goes on with it.
func (sim *simulation) crash() {
	sim.drain()
	keys := make([]string, 0, len(sim.log))
	for k, v := range sim.log {
		if v == nil && sim.pct(50) {
			continue
		}
		keys = append(keys, k)
	}
	sim.rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	s := NewState(sim.cfg)
	for _, k := range keys {
		if err := s.Restore([]byte(k), sim.log[k]); err != nil {
			sim.t.Fatalf("step %d: %v", sim.step, err)
		}
	}
	if err := s.FinishRestore(); err != nil {
		sim.t.Fatalf("step %d: %v", sim.step, err)
	}
	if err := s.Check(); err != nil {
		sim.t.Fatalf("step %d: after restore: %v", sim.step, err)
	}
	sim.s = s
	sim.restores++
	sim.compareState()
	s.DrainChanges(func(key, value []byte) { sim.t.Fatalf("step %d: restored state has changes: %q", sim.step, key) })
}
