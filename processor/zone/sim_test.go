package zone

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
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
		HoldTTLDefault:         30 * time.Second,
		HoldQuantityMaxDefault: 4, IdempotencyRetention: 30 * time.Minute,
		KeysMax: 60, HoldsMax: 25, ResolvedHoldsMax: 40, ZonesMax: 3,
	}
}

func TestSimulation(t *testing.T) {
	// Proves State matches a plain reference model event for event, with its invariants intact, over random
	// commands, clock jumps (backwards too) and the read model's progress, and that a State rebuilt from its
	// changelog as Kafka holds it (every version in write order, tombstones, aborted transactions skipped as
	// read_committed does, partly compacted) at random points, then fed the steps of its unfinished
	// transaction again, is the State it replaces and goes on through retention and eviction alike.
	seed := *simSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay: go test ./processor -run TestSimulation -sim.seed=%d)", seed, seed)
	sim := &simulation{t: t, rng: rand.New(rand.NewPCG(seed, seed>>32)), cfg: simConfig(), seen: map[string]int{},
		inventory: map[uuid.UUID]topics.Inventory{}, committed: -1, sunkAtCommit: math.MinInt64}
	sim.s, sim.ref, sim.now = NewState(sim.cfg), newRefModel(sim.cfg), t0
	for i := range sim.zones {
		sim.zones[i] = testID('Z', uint64(i+1))
	}
	start := time.Now()
	for sim.step = 0; sim.step < *simSteps; sim.step++ {
		sim.next()
		if sim.rng.IntN(100) < 30 {
			sim.transaction()
		}
		if sim.rng.IntN(1000) < 2 {
			sim.crash()
		}
		if sim.rng.IntN(1000) < 5 {
			sim.compact()
		}
	}
	t.Logf("%d steps, %d rebuilds (%d after aborts), %d transactions, %d records rebuilt, log of %d; %v; final %+v",
		*simSteps, sim.rebuilds, sim.aborts, sim.txns, sim.rebuilt, len(sim.log), time.Since(start).Round(time.Millisecond), sim.s.Stats())
	t.Logf("events seen: %v", sim.seen)
}

// next takes one random step: a command, a clock advance or news of the read model.
func (sim *simulation) next() {
	sim.now = sim.nextNow()
	st := simStep{now: sim.now}
	switch r := sim.rng.IntN(100); {
	case r < 2:
		// The read model has every decision up to some time before the clock.
		st.kind = stepSunk
		st.now = sim.s.Clock().Add(-time.Nanosecond - time.Duration(sim.rng.Int64N(int64(2*time.Minute))))
		sim.s.SetSunkThrough(st.now)
		sim.ref.setSunkThrough(st.now)
		sim.pending = append(sim.pending, st)
		return
	case r < 5:
		st.kind = stepAdvance
		st.outcomes = sim.s.Advance(nil, sim.now)
		sim.compare(st.outcomes, sim.ref.advance(sim.now))
	default:
		st.kind, st.cmd = stepApply, sim.command()
		st.outcomes = sim.s.Apply(nil, st.cmd, sim.now)
		sim.compare(st.outcomes, sim.ref.apply(st.cmd, sim.now))
		sim.learn(st.cmd, st.outcomes)
		sim.offset++
	}
	for _, ev := range st.outcomes {
		kind := string(ev.Type)
		if ev.Rejection != nil {
			kind += "/" + string(ev.Rejection.Reason)
		}
		sim.seen[kind]++
	}
	sim.pending = append(sim.pending, st)
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
	holds     []simHold                      // holds placed, for confirms and releases
	keyed     []*topics.Command              // recent commands with a key, for retries
	places    []*topics.Command              // recent places, for duplicate request ids
	inventory map[uuid.UUID]topics.Inventory // latest seen per zone
	seen      map[string]int
	n         uint64

	log          []logRecord // the changelog topic partition
	pending      []simStep   // steps since the last committed transaction
	offset       int64       // commands applied: the next command offset
	committed    int64       // the offset the last committed transaction recorded, -1 = none
	sunkAtCommit int64       // the read model's progress known at the last commit
	txns         int
	rebuilds     int
	aborts       int
	rebuilt      int // records fed to Rebuild
}

// logRecord is a changelog record as the topic partition holds it.
type logRecord struct {
	key     string
	value   []byte // nil = tombstone
	aborted bool   // written in a transaction that aborted: read_committed skips it
}

type stepKind uint8

const (
	stepApply stepKind = iota
	stepAdvance
	stepSunk
)

// simStep is one input of the State and what it answered, to be fed again after a
// rebuild, as the loop reads the commands after the last committed offset again.
type simStep struct {
	kind     stepKind
	cmd      *topics.Command
	now      time.Time // for stepSunk, the time passed to SetSunkThrough
	outcomes []topics.Outcome
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
	if c.HoldTTLSeconds != nil && *c.HoldTTLSeconds > 60 {
		// Short TTLs keep holds expiring; a few just over the maximum are rejected.
		*c.HoldTTLSeconds += int64(topics.HoldTTLMax/time.Second) - 60
	}
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
func (sim *simulation) learn(cmd *topics.Command, evs []topics.Outcome) {
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
		if ev.Type != topics.OutRequestRejected || ev.Zone.Capacity != 0 {
			sim.inventory[ev.ZoneID] = ev.Zone
		}
	}
	if ev := evs[len(evs)-1]; ev.Type == topics.OutHoldPlaced {
		if len(sim.holds) == 10*simRecentMax {
			sim.holds = append(sim.holds[:0], sim.holds[len(sim.holds)/2:]...)
		}
		sim.holds = append(sim.holds, simHold{zone: ev.ZoneID, id: ev.Hold.ID})
	}
}

func (sim *simulation) compare(got, want []topics.Outcome) {
	t := sim.t
	t.Helper()
	norm := func(evs []topics.Outcome) []topics.Outcome {
		out := make([]topics.Outcome, len(evs))
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

// transaction writes the changes since the last one, with the consumed offset, as
// one transaction of the changelog, which commits or sometimes aborts (a fenced or
// failed producer). After an abort the State rebuilds, as the loop does.
func (sim *simulation) transaction() {
	sim.s.SetConsumed(sim.offset)
	start := len(sim.log)
	sim.s.DrainChanges(func(key, value []byte) {
		if value != nil {
			value = append([]byte{}, value...)
		}
		sim.log = append(sim.log, logRecord{key: string(key), value: value})
	})
	if sim.rng.IntN(100) < 3 {
		for i := range sim.log[start:] {
			sim.log[start+i].aborted = true
		}
		sim.aborts++
		sim.crash()
		return
	}
	sim.txns++
	sim.pending, sim.committed, sim.sunkAtCommit = sim.pending[:0], sim.offset, sim.ref.sunk
}

// compact cleans the log as Kafka's log cleaner may. It cleans a prefix (the rest
// is the head it has not reached): there, records of aborted transactions go, a
// record with a later one of its key in the prefix goes (only some of them,
// sometimes, as in a clean cut short), and a tombstone goes once no earlier record
// of its key is left (its delete retention passed), sometimes.
func (sim *simulation) compact() {
	end := sim.rng.IntN(len(sim.log) + 1)
	latest := map[string]int{}
	for i, r := range sim.log[:end] {
		if !r.aborted {
			latest[r.key] = i
		}
	}
	full := sim.pct(60)
	earlier := map[string]bool{} // keys with a committed record kept before
	kept := sim.log[:0]
	for i, r := range sim.log {
		if i < end {
			switch {
			case r.aborted && sim.pct(80):
				continue
			case r.aborted:
			case latest[r.key] != i && (full || sim.pct(50)):
				continue
			case r.value == nil && !earlier[r.key] && sim.pct(50):
				continue
			}
		}
		if !r.aborted {
			earlier[r.key] = true
		}
		kept = append(kept, r)
	}
	clear(sim.log[len(kept):])
	sim.log = kept
}

// crash replaces the State by one rebuilt from the committed records of the log,
// then feeds it the steps of the unfinished transaction again: it must answer them
// as the first time and end as the State it replaces.
func (sim *simulation) crash() {
	t := sim.t
	old := sim.s
	s := NewState(sim.cfg)
	for _, r := range sim.log {
		if r.aborted {
			continue
		}
		if err := s.Rebuild([]byte(r.key), r.value); err != nil {
			t.Fatalf("step %d: %v", sim.step, err)
		}
		sim.rebuilt++
	}
	if err := s.FinishRebuild(); err != nil {
		t.Fatalf("step %d: %v", sim.step, err)
	}
	if err := s.Check(); err != nil {
		t.Fatalf("step %d: after rebuild: %v", sim.step, err)
	}
	if next, ok := s.Consumed(); ok != (sim.committed >= 0) || (ok && next != sim.committed) {
		t.Fatalf("step %d: rebuilt consumed %d %v, committed %d", sim.step, next, ok, sim.committed)
	}
	s.DrainChanges(func(key, value []byte) { t.Fatalf("step %d: rebuilt state has changes: %q", sim.step, key) })
	sim.s = s
	sim.rebuilds++
	sim.resumeSunk()
	for _, st := range sim.pending {
		sim.replay(st)
	}
	if g, w := snapshot(s), snapshot(old); !reflect.DeepEqual(g, w) {
		t.Fatalf("step %d: rebuilt state differs from the one it replaces:\n%s", sim.step, snapshotDiff(g, w))
	}
	sim.compareState()
}

// resumeSunk tells the rebuilt State how far the read model is, as the loop does
// once it has looked: as far as it was known at the last commit, so that the steps
// fed again are answered alike. With none to feed, sometimes it has not looked yet,
// and nothing may be forgotten early.
func (sim *simulation) resumeSunk() {
	if len(sim.pending) == 0 && sim.pct(50) {
		sim.ref.sunk, sim.sunkAtCommit = math.MinInt64, math.MinInt64
		return
	}
	if sim.sunkAtCommit != math.MinInt64 {
		sim.s.SetSunkThrough(unixTime(sim.sunkAtCommit))
	}
}

func (sim *simulation) replay(st simStep) {
	var got []topics.Outcome
	switch st.kind {
	case stepSunk:
		sim.s.SetSunkThrough(st.now)
		return
	case stepAdvance:
		got = sim.s.Advance(nil, st.now)
	case stepApply:
		got = sim.s.Apply(nil, st.cmd, st.now)
	}
	if !reflect.DeepEqual(got, st.outcomes) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(st.outcomes, "", " ")
		sim.t.Fatalf("step %d: rebuilt state answers a step again differently\ngot:  %s\nwant: %s", sim.step, gj, wj)
	}
	if err := sim.s.Check(); err != nil {
		sim.t.Fatalf("step %d: %v", sim.step, err)
	}
}

// snapshot encodes every entity of s as its changelog record, the consumed offset
// left out (a rebuilt State has the committed one until its next transaction).
func snapshot(s *State) map[string]string {
	m := map[string]string{}
	for _, z := range s.zones {
		m[string(append([]byte{recZone}, z.id[:]...))] = string(encodeZone(nil, z))
		for c, ct := range z.customers {
			m[fmt.Sprintf("%c%s%s", recCustomer, z.id[:], c)] = fmt.Sprint(ct.active, ct.ordered)
		}
	}
	for h := range s.holds.all() {
		m[string(append([]byte{recHold}, h.id[:]...))] = string(encodeHold(nil, h))
	}
	for k := range s.keys.all() {
		m[fmt.Sprintf("%c%s%s", recKey, k.id.zone[:], k.id.key)] = string(encodeKey(nil, k))
	}
	cr := s.clockNow()
	cr.consumed = 0
	m[string([]byte{recClock})] = string(encodeClock(nil, cr))
	return m
}

func snapshotDiff(got, want map[string]string) string {
	var b strings.Builder
	for k, v := range got {
		if want[k] != v {
			fmt.Fprintf(&b, "%q: got %x, want %x\n", k, v, want[k])
		}
	}
	for k, v := range want {
		if _, ok := got[k]; !ok {
			fmt.Fprintf(&b, "%q: missing, want %x\n", k, v)
		}
	}
	return b.String()
}
