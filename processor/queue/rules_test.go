package queue_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/processor/queue"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// bench is a state with a helper that applies one command and returns what it
// answered and forwarded.
type bench struct {
	t   *testing.T
	s   *queue.State
	now time.Time
	n   uint64
}

func newBench(t *testing.T) *bench {
	return &bench{t: t, s: queue.NewState(queue.DefaultConfig()), now: t0}
}

func (b *bench) apply(c *topics.Command) ([]topics.Outcome, []topics.Command) {
	b.t.Helper()
	out, fwd := b.s.Apply(nil, nil, c, b.now)
	if err := b.s.Check(); err != nil {
		b.t.Fatalf("after %s: %v", c.Type, err)
	}
	return out, fwd
}

func (b *bench) next(tag byte) uuid.UUID { b.n++; return idOf(tag, b.n) }

// answer applies c and returns the one outcome that answers it.
func (b *bench) answer(c *topics.Command) topics.Outcome {
	b.t.Helper()
	out, _ := b.apply(c)
	for _, o := range out {
		if o.RequestID == c.RequestID {
			return o
		}
	}
	b.t.Fatalf("%s got no answer in %+v", c.Type, out)
	return topics.Outcome{}
}

func reason(o topics.Outcome) topics.Reason {
	if o.Rejection == nil {
		return ""
	}
	return o.Rejection.Reason
}

// admitted joins customer and advances until admitted; returns the queue id.
func (b *bench) admitted(customer string) uuid.UUID {
	b.t.Helper()
	c := joinCmd(b.next('j'), customer)
	out, _ := b.apply(c)
	for range 100 {
		for _, o := range out {
			if o.Type == topics.OutQueueAdmitted && o.Entry.QueueID == c.RequestID {
				return o.Entry.QueueID
			}
		}
		b.now = b.now.Add(time.Second)
		out = b.s.Advance(nil, b.now)
	}
	b.t.Fatal("never admitted")
	return uuid.Nil
}

// TestJoinRules proves the answers to joins: no room, not open yet, a place, the
// same place again for a buyer already in the line, and a new place after an
// admission expired.
func TestJoinRules(t *testing.T) {
	b := newBench(t)
	if r := reason(b.answer(joinCmd(b.next('j'), "a"))); r != topics.ReasonQueueNotFound {
		t.Fatalf("join without a room: %q", r)
	}
	for name, q := range map[string]topics.ConfigureQueue{
		"no start":            {Enabled: true, RatePerSecond: 1},
		"opens after start":   {Enabled: true, OpensAt: t0.Add(time.Hour), StartsAt: t0, RatePerSecond: 1},
		"automatic, no zones": {Enabled: true, OpensAt: t0, StartsAt: t0},
		"rate too high":       {Enabled: true, OpensAt: t0, StartsAt: t0, RatePerSecond: topics.QueueRateMax + 1},
		"allowance too high":  {Enabled: true, OpensAt: t0, StartsAt: t0, RatePerSecond: 1, Allowance: topics.QueueAllowanceMax + 1},
		"shop too short":      {Enabled: true, OpensAt: t0, StartsAt: t0, RatePerSecond: 1, ShopSeconds: 1},
	} {
		if r := reason(b.answer(configureCmd(b.next('c'), q))); r != topics.ReasonInvalidCommand {
			t.Errorf("configure with %s: %q", name, r)
		}
	}
	b.answer(configureCmd(b.next('c'), topics.ConfigureQueue{Enabled: true, OpensAt: t0.Add(time.Minute),
		StartsAt: t0.Add(2 * time.Minute), RatePerSecond: 10, ShopSeconds: 60}))
	if r := reason(b.answer(joinCmd(b.next('j'), "a"))); r != topics.ReasonQueueNotOpen {
		t.Fatalf("join before opens_at: %q", r)
	}
	b.now = t0.Add(time.Minute)
	first := b.answer(joinCmd(b.next('j'), "a"))
	if first.Type != topics.OutQueueJoined || !first.Entry.PreQueue || first.Entry.Position != 0 || first.Progress.Waiting != 1 {
		t.Fatalf("first join: %+v %+v", first.Entry, first.Progress)
	}
	again := b.answer(joinCmd(b.next('j'), "a"))
	if again.Type != topics.OutRequestReplayed || again.Replay.OriginalRequestID != first.RequestID || again.Entry.QueueID != first.RequestID {
		t.Fatalf("second join of the same buyer: %s %+v", again.Type, again.Replay)
	}
	b.now = t0.Add(2 * time.Minute)
	out := b.s.Advance(nil, b.now)
	if len(out) < 3 || out[0].Type != topics.OutQueueOpened || out[1].Type != topics.OutQueuePositioned || out[2].Type != topics.OutQueueAdmitted {
		t.Fatalf("at the start: %+v", out)
	}
	b.now = b.now.Add(61 * time.Second)
	out = b.s.Advance(nil, b.now)
	if len(out) != 1 || out[0].Type != topics.OutQueueAdmissionExpired {
		t.Fatalf("after shop_seconds: %+v", out)
	}
	if j := b.answer(joinCmd(b.next('j'), "a")); j.Type != topics.OutQueueJoined || j.Entry.Position != 2 {
		t.Fatalf("join after the admission expired: %s %+v", j.Type, j.Entry)
	}
}

// TestAdmissionDebitRules proves the checks of an admission hold and its debit: the
// reasons for a missing, waiting, expired or other buyer's admission, a quantity over
// the allowance or over the buyer's limit across admissions; a retry of a debited
// key forwarded without a second debit; and credits giving tickets back.
func TestAdmissionDebitRules(t *testing.T) {
	b := newBench(t)
	b.answer(configureCmd(b.next('c'), topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: t0,
		RatePerSecond: 1, ShopSeconds: 60, Allowance: 4, CustomerLimit: 6, Zones: []uuid.UUID{tZone}}))
	q := b.admitted("a")
	hold := func(queueID uuid.UUID, customer, key string, qty int64) (topics.Outcome, []topics.Command) {
		c := holdCmd(b.next('h'), queueID, customer, key, qty)
		out, fwd := b.apply(c)
		for _, o := range out {
			if o.RequestID == c.RequestID {
				return o, fwd
			}
		}
		return topics.Outcome{}, fwd
	}
	for _, tc := range []struct {
		name     string
		queueID  uuid.UUID
		customer string
		qty      int64
		want     topics.Reason
	}{
		{"unknown", idOf('x', 1), "a", 1, topics.ReasonAdmissionNotFound},
		{"other buyer", q, "b", 1, topics.ReasonAdmissionCustomerMismatch},
		{"over the allowance", q, "a", 5, topics.ReasonAdmissionAllowanceExceeded},
	} {
		if o, fwd := hold(tc.queueID, tc.customer, "k-"+tc.name, tc.qty); reason(o) != tc.want || len(fwd) != 0 {
			t.Errorf("%s: %q, forwarded %d", tc.name, reason(o), len(fwd))
		}
	}
	o, fwd := hold(q, "a", "k1", 3)
	if o.Type != "" || len(fwd) != 1 || fwd[0].Place.Admission == nil || !fwd[0].Place.Admission.Debited || fwd[0].Key() != tZone {
		t.Fatalf("debit: answer %s, forwarded %+v", o.Type, fwd)
	}
	if _, fwd := hold(q, "a", "k1", 3); len(fwd) != 1 || fwd[0].Place.Admission != nil {
		t.Fatalf("retry of k1: forwarded %+v (want it without the admission)", fwd)
	}
	if o, _ := hold(q, "a", "k2", 2); reason(o) != topics.ReasonAdmissionAllowanceExceeded {
		t.Fatalf("2 more after 3 of 4: %q", reason(o))
	}
	b.apply(creditCmd(b.next('r'), q, fwd[0].RequestID, 3)) // the hold was rejected
	if _, fwd := hold(q, "a", "k3", 4); len(fwd) != 1 {
		t.Fatal("4 after the credit of 3 refused")
	}
	// A second admission of the same buyer: the event-wide limit is 6, 4 are spent.
	b.now = b.now.Add(2 * time.Minute)
	b.s.Advance(nil, b.now)
	if o, _ := hold(q, "a", "k4", 1); reason(o) != topics.ReasonAdmissionExpired {
		t.Fatalf("hold on an expired admission: %q", reason(o))
	}
	q2 := b.admitted("a")
	if o, _ := hold(q2, "a", "k5", 3); reason(o) != topics.ReasonCustomerLimitExceeded {
		t.Fatalf("3 more over the buyer's limit of 6: %q", reason(o))
	}
	if _, fwd := hold(q2, "a", "k6", 2); len(fwd) != 1 {
		t.Fatal("2 more within the buyer's limit refused")
	}
	w := b.answer(joinCmd(b.next('j'), "w"))
	if o, _ := hold(w.Entry.QueueID, "w", "k7", 1); reason(o) != topics.ReasonAdmissionNotFound {
		t.Fatalf("hold of a buyer still waiting: %q", reason(o))
	}
}

// TestExpiredEntriesAreForgotten proves the bound on remembered admissions: an
// expired entry is forgotten after ExpiredRetention (then a hold naming it finds
// nothing) and its changelog record is deleted.
func TestExpiredEntriesAreForgotten(t *testing.T) {
	b := newBench(t)
	log := newChangelog()
	b.answer(configureCmd(b.next('c'), topics.ConfigureQueue{Enabled: true, OpensAt: t0, StartsAt: t0, RatePerSecond: 1, ShopSeconds: 60}))
	q := b.admitted("a")
	log.drain(b.s)
	b.now = b.now.Add(time.Minute + queue.ExpiredRetentionDefault)
	b.s.Advance(nil, b.now)
	log.drain(b.s)
	if st := b.s.Stats(); st.Entries != 0 {
		t.Fatalf("stats after retention: %+v", st)
	}
	if o := b.answer(holdCmd(b.next('h'), q, "a", "k", 1)); reason(o) != topics.ReasonAdmissionNotFound {
		t.Fatalf("hold on a forgotten admission: %q", reason(o))
	}
	if st := log.restore(t, queue.DefaultConfig()).Stats(); st.Entries != 0 || st.Rooms != 1 {
		t.Fatalf("restored: %+v", st)
	}
}
