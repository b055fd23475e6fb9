package zone

import (
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// hotZoneMix builds the commands of one hot zone in blocks of ten: six places, two
// confirms, one release and one retried confirm (a replay); the other three holds
// of a block expire. Every place and confirm carries an idempotency key.
type hotZoneMix struct {
	zone      uuid.UUID
	keys      []string
	customers []string
	cmds      []topics.Command
	places    []topics.PlaceHold
	confirms  []topics.ConfirmHold
	releases  []topics.ReleaseHold
	op        uint64
}

const (
	benchChunk   = 1 << 16 // commands built at a time, outside the timer
	benchKeyPool = 1 << 20 // distinct keys, reused long after their retention
	benchTick    = 100 * time.Microsecond
)

func newHotZoneMix(zone uuid.UUID) *hotZoneMix {
	m := &hotZoneMix{zone: zone, keys: make([]string, benchKeyPool), customers: make([]string, 4096),
		cmds: make([]topics.Command, benchChunk), places: make([]topics.PlaceHold, benchChunk),
		confirms: make([]topics.ConfirmHold, benchChunk), releases: make([]topics.ReleaseHold, benchChunk)}
	for i := range m.keys {
		m.keys[i] = fmt.Sprintf("idem-%08d", i)
	}
	for i := range m.customers {
		m.customers[i] = fmt.Sprintf("customer-%d", i)
	}
	return m
}

// fill builds the next chunk of commands.
func (m *hotZoneMix) fill() []topics.Command {
	for i := range m.cmds {
		op := m.op
		m.op++
		block, j := op/10, op%10
		hold := func(k uint64) uuid.UUID { return testID('H', block*6+k) }
		key := func(k uint64) string { return m.keys[(block*3+k)%benchKeyPool] }
		c := &m.cmds[i]
		*c = topics.Command{Version: 1, RequestID: testID('R', op), EventID: eventID, ZoneID: m.zone}
		switch {
		case j < 6:
			c.Type, c.RequestID, c.IdempotencyKey = topics.CmdPlaceHold, hold(j), key(j%3)
			if j >= 3 {
				c.IdempotencyKey = "" // half the places come without a key
			}
			m.places[i] = topics.PlaceHold{Quantity: int64(1 + j%3), CustomerID: m.customers[(block*6+j)%4096]}
			c.Place = &m.places[i]
		case j == 6 || j == 7 || j == 9:
			k := j - 6
			if j == 9 {
				k = 0 // retry of the first confirm: replayed
			}
			c.Type, c.IdempotencyKey = topics.CmdConfirmHold, "c"+key(k)[4:]
			m.confirms[i] = topics.ConfirmHold{HoldID: hold(k)}
			c.Confirm = &m.confirms[i]
		case j == 8:
			c.Type = topics.CmdReleaseHold
			m.releases[i] = topics.ReleaseHold{HoldID: hold(2)}
			c.Release = &m.releases[i]
		}
	}
	return m.cmds
}

func benchState(b *testing.B, cfg Config) (*State, *hotZoneMix, time.Time) {
	s := NewState(cfg)
	now := t0
	cfgCmd := &topics.Command{Version: 1, Type: topics.CmdConfigureZone, RequestID: testID('C', 1), EventID: eventID,
		ZoneID: zoneA, Configure: &topics.ConfigureZone{EventName: "Final", ZoneName: "Standing",
			Capacity: i64(topics.ZoneCapacityMax), HoldTTLSeconds: i64(10)}}
	if ev := s.Apply(nil, cfgCmd, now); ev[0].Type != topics.OutZoneConfigured {
		b.Fatalf("configure: %+v", ev[0].Rejection)
	}
	return s, newHotZoneMix(zoneA), now
}

// benchTxn is how many commands the bench applies between drains, like the loop's
// transactions.
const benchTxn = 256

// runMix applies n commands of the mix, one tick apart, and drains the changes every
// benchTxn commands. With timed, building the commands and (unless drainTimed)
// draining happen with the timer stopped. Untimed, it counts the events by type.
func runMix(b *testing.B, s *State, m *hotZoneMix, now time.Time, tick time.Duration, n int, timed, drainTimed bool, dst []topics.Outcome) (time.Time, []topics.Outcome, map[topics.OutcomeType]int) {
	counts := map[topics.OutcomeType]int{}
	pause := func(stop bool) {
		if timed && stop {
			b.StopTimer()
		} else if timed {
			b.StartTimer()
		}
	}
	discard := func(key, value []byte) {}
	for n > 0 {
		pause(true)
		cmds := m.fill()
		pause(false)
		for i := range cmds[:min(n, len(cmds))] {
			now = now.Add(tick)
			dst = s.Apply(dst[:0], &cmds[i], now)
			if !timed {
				for _, ev := range dst {
					counts[ev.Type]++
				}
			}
			if drainTimed && i%benchTxn == benchTxn-1 {
				s.DrainChanges(discard)
			}
		}
		n -= len(cmds)
		pause(true)
		s.DrainChanges(discard)
		pause(false)
	}
	return now, dst, counts
}

// BenchmarkApplyHotZone applies the mix to one zone whose holds expire after 10 s and
// whose keys and resolved holds are kept 1 min (one tick = 100 µs, so about 30,000
// active holds, 180,000 keys and 360,000 resolved holds in the steady state reached
// before timing). Only Apply is timed.
func BenchmarkApplyHotZone(b *testing.B) {
	cfg := DefaultConfig()
	cfg.IdempotencyRetention = time.Minute
	benchmarkApply(b, cfg, benchTick, false)
}

// BenchmarkApplyHotZoneCacheResident is the same mix with a small state (one tick =
// 1 ms, keys kept 10 s: about 3,000 active holds, 3,000 keys and 6,000 resolved
// holds), which stays in the CPU caches: the cost of the code rather than of memory.
func BenchmarkApplyHotZoneCacheResident(b *testing.B) {
	cfg := DefaultConfig()
	cfg.IdempotencyRetention = 10 * time.Second
	benchmarkApply(b, cfg, time.Millisecond, false)
}

// BenchmarkApplyHotZoneWithDrain times Apply plus encoding the changelog records
// (DrainChanges every 256 commands), which the loop pays too.
func BenchmarkApplyHotZoneWithDrain(b *testing.B) {
	cfg := DefaultConfig()
	cfg.IdempotencyRetention = time.Minute
	benchmarkApply(b, cfg, benchTick, true)
}

// BenchmarkApplyHotZoneRetention24h uses the default config: nothing is forgotten
// during the run, so the tables keep growing.
func BenchmarkApplyHotZoneRetention24h(b *testing.B) {
	benchmarkApply(b, DefaultConfig(), benchTick, false)
}

func benchmarkApply(b *testing.B, cfg Config, tick time.Duration, drainTimed bool) {
	s, m, now := benchState(b, cfg)
	now, dst, counts := runMix(b, s, m, now, tick, 1_000_000, false, false, make([]topics.Outcome, 0, 64))
	if counts[topics.OutHoldExpired] == 0 || counts[topics.OutRequestReplayed] == 0 || counts[topics.OutRequestRejected] != 0 {
		b.Fatalf("warm-up mix: %v", counts)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	// Labelled, so a profile can focus on it: -tagfocus=phase=timed.
	pprof.Do(context.Background(), pprof.Labels("phase", "timed"), func(context.Context) {
		runMix(b, s, m, now, tick, b.N, true, drainTimed, dst)
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
	// The machine may be shared: CPU time (all threads, GC included, building the
	// commands too) is the steadier figure.
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	if err := s.Check(); err != nil {
		b.Fatal(err)
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRebuild rebuilds a partition of 1,000,000 active holds (in 100 zones,
// with customers) from the changelog records a State drained.
func BenchmarkRebuild(b *testing.B) {
	const holds, zones = 1_000_000, 100
	cfg := DefaultConfig()
	s := NewState(cfg)
	now := t0
	var dst []topics.Outcome
	for z := range zones {
		dst = s.Apply(dst[:0], &topics.Command{Version: 1, Type: topics.CmdConfigureZone, RequestID: testID('C', uint64(z)),
			EventID: eventID, ZoneID: testID('Z', uint64(z)), Configure: &topics.ConfigureZone{EventName: "e", ZoneName: "z",
				Capacity: i64(topics.ZoneCapacityMax), HoldTTLSeconds: i64(3600), HoldQuantityMax: i64(4)}}, now)
	}
	place := topics.PlaceHold{}
	cmd := topics.Command{Version: 1, Type: topics.CmdPlaceHold, EventID: eventID, Place: &place}
	for i := range holds {
		now = now.Add(time.Millisecond)
		cmd.RequestID, cmd.ZoneID = testID('H', uint64(i)), testID('Z', uint64(i%zones))
		place.Quantity, place.CustomerID = int64(1+i%4), fmt.Sprintf("cust-%d", i%50_000)
		if dst = s.Apply(dst[:0], &cmd, now); dst[len(dst)-1].Type != topics.OutHoldPlaced {
			b.Fatalf("place: %+v", dst[len(dst)-1].Rejection)
		}
	}
	type record struct{ key, value []byte }
	var records []record
	s.DrainChanges(func(key, value []byte) {
		records = append(records, record{append([]byte(nil), key...), append([]byte(nil), value...)})
	})
	want := s.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := NewState(cfg)
		for _, rec := range records {
			if err := r.Rebuild(rec.key, rec.value); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.FinishRebuild(); err != nil {
			b.Fatal(err)
		}
		if r.Stats() != want {
			b.Fatalf("rebuilt %+v, want %+v", r.Stats(), want)
		}
	}
	b.ReportMetric(float64(len(records)), "records")
}

// BenchmarkKeyMemory measures the heap one remembered idempotency key costs: its
// entry, its share of the table and of the decision-order queue, and its key string
// (36 bytes, a UUID as clients usually send). Each command is a keyed confirm of an
// unknown hold, so it creates nothing else. Run with -benchtime=1x.
func BenchmarkKeyMemory(b *testing.B) {
	const keys = 500_000
	cfg := DefaultConfig()
	for b.Loop() {
		s, _, now := benchState(b, cfg)
		confirm := topics.ConfirmHold{HoldID: testID('H', 0)}
		cmd := topics.Command{Version: 1, Type: topics.CmdConfirmHold, EventID: eventID, ZoneID: zoneA, Confirm: &confirm}
		var dst []topics.Outcome
		discard := func(key, value []byte) {}
		before := heapInUse()
		for i := range keys {
			cmd.RequestID, cmd.IdempotencyKey = testID('R', uint64(i)), uuid.NewString()
			dst = s.Apply(dst[:0], &cmd, now)
			if i%benchTxn == 0 {
				s.DrainChanges(discard)
			}
		}
		s.DrainChanges(discard)
		dst = nil
		after := heapInUse()
		if st := s.Stats(); st.Keys != keys {
			b.Fatalf("stats %+v", st)
		}
		b.ReportMetric(float64(after-before)/keys, "bytes/key")
		runtime.KeepAlive(s)
	}
}

// heapInUse returns the bytes of live heap objects after a full collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
