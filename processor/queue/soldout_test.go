package queue_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// zoneModel is a zone as the queue sees it: it places the forwarded holds, confirms
// or lets them expire, and reports its stock after every change.
type zoneModel struct {
	available, held, sold int64
	holds                 []modelHold
	stock                 []*topics.Command // to send to the queue
	credits               []*topics.Command
	n                     uint64
}

type modelHold struct {
	id, queueID uuid.UUID
	qty         int64
	resolveAt   time.Time
	confirm     bool
}

func (z *zoneModel) report() {
	z.n++
	z.stock = append(z.stock, stockCmd(idOf('s', z.n), z.available, z.held))
}

func (z *zoneModel) place(c topics.Command, now time.Time, confirm bool) {
	a := c.Place.Admission
	if c.Place.Quantity > z.available {
		if a != nil && a.Debited {
			z.n++
			z.credits = append(z.credits, creditCmd(idOf('r', z.n), a.QueueID, c.RequestID, c.Place.Quantity))
		}
		return
	}
	z.available -= c.Place.Quantity
	z.held += c.Place.Quantity
	z.holds = append(z.holds, modelHold{id: c.RequestID, queueID: a.QueueID, qty: c.Place.Quantity,
		resolveAt: now.Add(3 * time.Second), confirm: confirm})
	z.report()
}

func (z *zoneModel) advance(now time.Time) {
	kept := z.holds[:0]
	for _, h := range z.holds {
		if h.resolveAt.After(now) {
			kept = append(kept, h)
			continue
		}
		z.held -= h.qty
		if h.confirm {
			z.sold += h.qty
		} else {
			z.available += h.qty
			z.n++
			z.credits = append(z.credits, creditCmd(idOf('r', z.n), h.queueID, h.id, h.qty))
		}
		z.report()
	}
	z.holds = kept
}

// TestSoldOutReachesEveryWaitingBuyer sells a zone of 1,000 tickets to 20,000
// joiners through an automatic room (at most 20 admissions a second, while the
// unspent allowance is below the tickets left); every admitted buyer holds 2
// tickets at once and one in five lets the hold expire. It proves that nothing is
// oversold, that queue.sold_out is announced at the clock time the last ticket's
// state reached the queue (so within 5 s of the partition clock for every buyer
// still waiting, whose status the read model derives from it), that nobody is
// admitted after it, and that tickets coming back resume admissions.
//
// Run again with the queue writer crashing mid-sale (restored from its changelog,
// which holds debits, buyers' limits, credits and stock), it proves the same
// outcomes follow.
func TestSoldOutReachesEveryWaitingBuyer(t *testing.T) {
	out := soldOutRun(t, -1)
	for _, crash := range []int{300, 1200} {
		if got := soldOutRun(t, crash); !reflect.DeepEqual(got, out) {
			i := 0
			for i < min(len(got), len(out)) && reflect.DeepEqual(got[i], out[i]) {
				i++
			}
			t.Fatalf("after a crash at tick %d: outcomes differ from outcome %d of %d/%d", crash, i, len(got), len(out))
		}
	}
}

func soldOutRun(t *testing.T, crashAt int) []topics.Outcome {
	const capacity, joiners = 1_000, 20_000
	s := queue.NewState(queue.DefaultConfig())
	log := newChangelog()
	startsAt := t0.Add(time.Minute)
	var out []topics.Outcome
	var fwd []topics.Command
	apply := func(c *topics.Command, now time.Time) {
		out, fwd = s.Apply(out, fwd[:0], c, now)
	}
	apply(configureCmd(idOf('c', 0), topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: startsAt, RateMax: 20,
		Allowance: 2, ShopSeconds: 30, Zones: []uuid.UUID{tZone}}), t0)
	z := &zoneModel{available: capacity}
	z.report()
	for i := range joiners {
		apply(joinCmd(idOf('j', uint64(i)), customer(i)), t0.Add(time.Duration(i)*time.Millisecond))
	}
	holds := uint64(0)
	var soldOutAt, lastStockAt time.Time
	admittedAfter := 0
	tick := 0
	for now := startsAt; now.Before(startsAt.Add(time.Hour)); now = now.Add(100 * time.Millisecond) {
		if tick%20 == 0 {
			if err := s.Check(); err != nil {
				t.Fatalf("tick %d: %v", tick, err)
			}
		}
		log.drain(s)
		if tick == crashAt {
			s = log.restore(t, queue.DefaultConfig())
		}
		tick++
		z.advance(now)
		mark := len(out)
		for _, c := range append(z.stock, z.credits...) {
			if c.Type == topics.CmdZoneStock {
				lastStockAt = now
			}
			apply(c, now)
		}
		z.stock, z.credits = z.stock[:0], z.credits[:0]
		out = s.Advance(out, now)
		for _, o := range out[mark:] {
			switch o.Type {
			case topics.OutQueueAdmitted:
				if !soldOutAt.IsZero() {
					admittedAfter++
				}
				holds++
				apply(holdCmd(idOf('h', holds), o.Entry.QueueID, o.Entry.CustomerID, "k", 2), now)
				for _, f := range fwd {
					z.place(f, now, holds%5 != 0)
				}
			case topics.OutQueueSoldOut:
				soldOutAt = o.Time
				if o.Progress.Waiting == 0 {
					t.Fatal("sold out with nobody waiting: the scenario proves nothing")
				}
				if crashAt < 0 {
					t.Logf("sold out at %s with %d waiting, admitted through %d", o.Time.Sub(startsAt), o.Progress.Waiting, o.Progress.AdmittedThrough)
				}
			}
		}
		if z.available < 0 || z.sold > capacity {
			t.Fatalf("oversold: available %d sold %d", z.available, z.sold)
		}
		if !soldOutAt.IsZero() {
			break
		}
	}
	if soldOutAt.IsZero() || z.sold != capacity {
		t.Fatalf("not sold out: sold %d available %d held %d holds %d stats %+v last %+v", z.sold, z.available, z.held, len(z.holds), s.Stats(), out[len(out)-1])
	}
	if d := soldOutAt.Sub(lastStockAt); d < 0 || d > 5*time.Second {
		t.Fatalf("sold out announced %v after the last stock change", d)
	}
	if admittedAfter != 0 {
		t.Fatalf("%d admitted after sold out", admittedAfter)
	}
	if st := s.Stats(); st.Waiting == 0 || st.Selling != 0 {
		t.Fatalf("sold out: stats %+v: buyers must still wait, none of them in a selling room", st)
	}
	// Tickets back (a refund, a capacity raise): admissions resume.
	now := soldOutAt.Add(time.Second)
	mark := len(out)
	apply(stockCmd(idOf('s', 1<<40), 4, 0), now)
	out = s.Advance(out, now.Add(time.Second))
	var resumed, admitted bool
	for _, o := range out[mark:] {
		resumed = resumed || o.Type == topics.OutQueueResumed
		admitted = admitted || o.Type == topics.OutQueueAdmitted
	}
	if !resumed || !admitted {
		t.Fatalf("after tickets came back: resumed %v, admitted %v", resumed, admitted)
	}
	if st := s.Stats(); st.Selling == 0 || st.Selling != st.Waiting {
		t.Fatalf("resumed: stats %+v: the waiting buyers are in a selling room again", st)
	}
	return out
}
