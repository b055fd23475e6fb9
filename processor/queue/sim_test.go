package queue_test

import (
	"encoding/hex"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// step is one record of a partition's log: a command, or a tick (cmd nil).
type step struct {
	at  time.Time
	cmd *topics.Command
}

// flashCrowd is the scenario: a room at rate admissions per second, pre
// joiners in the 100 s before the start, post joiners after it (100 a second),
// and a tick every 100 ms until everyone can have been admitted.
func flashCrowd(rate float64, pre, post int) (steps []step, startsAt time.Time) {
	startsAt = t0.Add(100 * time.Second)
	steps = append(steps, step{t0, configureCmd(idOf('c', 0), topics.ConfigureQueue{Enabled: true, OpensAt: t0,
		StartsAt: startsAt, RatePerSecond: rate, ShopSeconds: 600, Allowance: 4})})
	var joins []step
	for i := range pre {
		at := t0.Add(time.Duration(i+1) * (99 * time.Second) / time.Duration(pre))
		joins = append(joins, step{at, joinCmd(idOf('j', uint64(i)), customer(i))})
	}
	for i := range post {
		at := startsAt.Add(time.Duration(i+1) * 10 * time.Millisecond)
		joins = append(joins, step{at, joinCmd(idOf('j', uint64(pre+i)), customer(pre+i))})
	}
	end := startsAt.Add(time.Duration(float64(pre+post)/rate*float64(time.Second)) + 10*time.Second)
	ji := 0
	for tick := t0; !tick.After(end); tick = tick.Add(100 * time.Millisecond) {
		for ji < len(joins) && !joins[ji].at.After(tick) {
			steps = append(steps, joins[ji])
			ji++
		}
		steps = append(steps, step{at: tick})
	}
	return append(steps, joins[ji:]...), startsAt
}

func customer(i int) string { return "buyer-" + strconv.Itoa(i) }

// run applies the steps, draining the changelog every txn steps; after the drain
// that ends step crashAfter (0: never) the state is dropped and restored from the
// changelog, as a processor does after a crash. It returns every outcome.
func run(t *testing.T, steps []step, txn, crashAfter int) []topics.Outcome {
	t.Helper()
	cfg := queue.DefaultConfig()
	s := queue.NewState(cfg)
	log := newChangelog()
	var out []topics.Outcome
	var fwd []topics.Command
	for i, st := range steps {
		if st.cmd == nil {
			out = s.Advance(out, st.at)
		} else {
			out, fwd = s.Apply(out, fwd[:0], st.cmd, st.at)
		}
		if (i+1)%txn == 0 || i == len(steps)-1 {
			if (i+1)%(txn*40) == 0 {
				if err := s.Check(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			log.drain(s)
			if i+1 == crashAfter {
				s = log.restore(t, cfg)
			}
		}
	}
	return out
}

// TestFlashCrowd runs 100,000 joiners (10,000 before the start) through a room at
// 50 admissions a second and proves: everyone is admitted exactly once; no window
// of one second of the partition clock holds more than 50 admissions; the
// pre-queue gets positions 1..10,000 by the recorded seed's shuffle of the join
// order; later joiners get 10,001.. in join order; admissions follow positions; and
// restores from the changelog before the start and mid-sale continue with the very
// same outcomes. The scenario is fixed (no random seed): a failure replays as is.
func TestFlashCrowd(t *testing.T) {
	const rate, pre, post = 50, 10_000, 90_000
	steps, startsAt := flashCrowd(rate, pre, post)
	t.Logf("scenario: %d steps, event %s, starts at %s, rate %v/s", len(steps), tEvent, startsAt, rate)
	out := run(t, steps, 97, 0)

	var (
		admitted   = map[uuid.UUID]int{}
		times      []time.Time
		lastPos    int64
		joinOrder  []uuid.UUID // pre-queue, in join order
		positioned = map[uuid.UUID]int64{}
		nextPost   = int64(pre + 1)
		seed       string
	)
	for _, o := range out {
		switch o.Type {
		case topics.OutQueueJoined:
			if o.Entry.PreQueue {
				joinOrder = append(joinOrder, o.Entry.QueueID)
			} else {
				if o.Entry.Position != nextPost {
					t.Fatalf("post-start joiner %s got position %d, want %d", o.Entry.QueueID, o.Entry.Position, nextPost)
				}
				nextPost++
			}
		case topics.OutQueueOpened:
			seed = o.Opened.Seed
			if o.Opened.PreQueueSize != pre || !o.Opened.StartedAt.Equal(startsAt) {
				t.Fatalf("opened %+v", o.Opened)
			}
		case topics.OutQueuePositioned:
			positioned[o.Entry.QueueID] = o.Entry.Position
		case topics.OutQueueAdmitted:
			admitted[o.Entry.QueueID]++
			times = append(times, o.Time)
			if o.Entry.Position != lastPos+1 {
				t.Fatalf("admitted position %d after %d", o.Entry.Position, lastPos)
			}
			lastPos = o.Entry.Position
		case topics.OutRequestRejected:
			t.Fatalf("rejected: %+v", o.Rejection)
		}
	}
	if len(admitted) != pre+post {
		t.Fatalf("%d admitted, want %d", len(admitted), pre+post)
	}
	for id, n := range admitted {
		if n != 1 {
			t.Fatalf("%s admitted %d times", id, n)
		}
	}
	// At most rate admissions in any window (t-1s, t].
	lo := 0
	for hi := range times {
		for !times[lo].After(times[hi].Add(-time.Second)) {
			lo++
		}
		if n := hi - lo + 1; n > rate {
			t.Fatalf("%d admissions in the second before %s", n, times[hi])
		}
	}
	// The recorded seed recomputes the positions from the join order.
	want := queue.Seed(tEvent, startsAt)
	if seed != hex.EncodeToString(want[:]) {
		t.Fatalf("seed %s, want %x", seed, want)
	}
	order := slices.Clone(joinOrder)
	queue.Shuffle(want, order)
	for i, id := range order {
		if positioned[id] != int64(i+1) {
			t.Fatalf("%s positioned %d, the recomputed shuffle says %d", id, positioned[id], i+1)
		}
	}
	if len(positioned) != pre {
		t.Fatalf("%d positioned, want %d", len(positioned), pre)
	}

	for _, crash := range []int{97 * 50, 97 * (len(steps) / 97 / 2)} {
		if got := run(t, steps, 97, crash); !reflect.DeepEqual(got, out) {
			i := 0
			for i < min(len(got), len(out)) && reflect.DeepEqual(got[i], out[i]) {
				i++
			}
			t.Fatalf("after a crash at step %d: outcomes differ from outcome %d of %d/%d", crash, i, len(got), len(out))
		}
	}
}
