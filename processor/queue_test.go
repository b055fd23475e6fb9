package processor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// outcomeLog reads the events topic (read_committed) in the background and keeps
// every outcome, with the partition it came on and its key.
type outcomeLog struct {
	mu   sync.Mutex
	all  []topics.Outcome
	keys []string
}

func followOutcomes(t *testing.T, brokers []string, names topics.Names) *outcomeLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(names.Events),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &outcomeLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				e, err := topics.DecodeOutcome(r.Value)
				if err != nil {
					return
				}
				l.mu.Lock()
				l.all = append(l.all, e)
				l.keys = append(l.keys, string(r.Key))
				l.mu.Unlock()
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return l
}

// wait polls until cond holds over the outcomes so far, or fails after a minute.
func (l *outcomeLog) wait(t *testing.T, what string, cond func([]topics.Outcome) bool) []topics.Outcome {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		l.mu.Lock()
		all := append([]topics.Outcome(nil), l.all...)
		l.mu.Unlock()
		if cond(all) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s; %d outcomes", what, len(all))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func count(all []topics.Outcome, typ topics.OutcomeType) int {
	n := 0
	for _, o := range all {
		if o.Type == typ {
			n++
		}
	}
	return n
}

// answerTo returns the outcome answering request id, if any.
func answerTo(all []topics.Outcome, id uuid.UUID) (topics.Outcome, bool) {
	for _, o := range all {
		if o.RequestID == id {
			return o, true
		}
	}
	return topics.Outcome{}, false
}

// TestWaitingRoomOnKafka proves the waiting room end to end in the processor on
// real Kafka: joins before the start form the pre-queue, the sale opens, buyers are
// admitted one a second, and a processor killed mid-queue is replaced by one that
// restores the queue from the changelog and goes on: everyone admitted exactly once,
// in position order. Then admission holds are debited and forwarded to the zone
// (placed there), an allowance is enforced, a hold sent to the zone without an
// admission is refused there, a zone's rejection credits the admission back, and
// the zone's stock reaches the room.
func TestWaitingRoomOnKafka(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 1, 1)
	zone := w.zones[0]
	log := followOutcomes(t, brokers, names)
	capacity, qtyMax, on := int64(10), int64(10), true
	w.send(t, &topics.Command{Type: topics.CmdConfigureZone, ZoneID: zone, Configure: &topics.ConfigureZone{
		EventName: "Room", ZoneName: "Floor", Capacity: &capacity, HoldQuantityMax: &qtyMax, WaitingRoom: &on}})
	startsAt := time.Now().Add(4 * time.Second)
	w.send(t, &topics.Command{Type: topics.CmdConfigureQueue, Queue: &topics.ConfigureQueue{Enabled: true,
		OpensAt: time.Now().Add(-time.Hour), StartsAt: startsAt, RatePerSecond: 1, ShopSeconds: 600, Allowance: 4,
		Zones: []uuid.UUID{zone}}})
	const buyers = 6
	queueOf := map[string]uuid.UUID{}
	for i := range buyers {
		c := &topics.Command{Type: topics.CmdJoinQueue, Join: &topics.JoinQueue{CustomerID: fmt.Sprintf("buyer-%d", i)}}
		w.send(t, c)
		queueOf[c.Join.CustomerID] = c.RequestID
	}
	a := startChild(t, brokers, prefix, prefix+"a")
	log.wait(t, "two admissions", func(all []topics.Outcome) bool { return count(all, topics.OutQueueAdmitted) >= 2 })
	a.kill() // mid-queue, its transaction left open
	b := startChild(t, brokers, prefix, prefix+"b")
	defer b.terminate(t)
	all := log.wait(t, "every admission", func(all []topics.Outcome) bool { return count(all, topics.OutQueueAdmitted) >= buyers })

	if n := count(all, topics.OutQueueJoined); n != buyers {
		t.Fatalf("%d joined, want %d", n, buyers)
	}
	if n := count(all, topics.OutQueuePositioned); n != buyers || count(all, topics.OutQueueOpened) != 1 {
		t.Fatalf("%d positioned, %d opened", n, count(all, topics.OutQueueOpened))
	}
	admitted := map[uuid.UUID]bool{}
	last := int64(0)
	for _, o := range all {
		if o.Type != topics.OutQueueAdmitted {
			continue
		}
		if admitted[o.Entry.QueueID] || o.Entry.Position != last+1 {
			t.Fatalf("admission of %s at position %d after %d (twice: %v)", o.Entry.QueueID, o.Entry.Position, last, admitted[o.Entry.QueueID])
		}
		admitted[o.Entry.QueueID], last = true, o.Entry.Position
	}

	hold := func(customer, key string, qty int64) uuid.UUID {
		c := &topics.Command{Type: topics.CmdPlaceHold, ZoneID: zone, IdempotencyKey: key, Place: &topics.PlaceHold{
			Quantity: qty, CustomerID: customer, Admission: &topics.AdmissionRef{QueueID: queueOf[customer]}}}
		w.send(t, c)
		return c.RequestID
	}
	answer := func(id uuid.UUID) topics.Outcome {
		all := log.wait(t, "an answer", func(all []topics.Outcome) bool { _, ok := answerTo(all, id); return ok })
		o, _ := answerTo(all, id)
		return o
	}
	var placed []uuid.UUID
	h := hold("buyer-0", "a", 3)
	if o := answer(h); o.Type != topics.OutHoldPlaced || o.ZoneID != zone {
		t.Fatalf("admission hold: %s %+v", o.Type, o.Rejection)
	}
	placed = append(placed, h)
	// A hold sent straight to the zone, past the queue writer: the zone's own gate.
	direct := &topics.Command{Type: topics.CmdPlaceHold, ZoneID: zone, IdempotencyKey: "direct",
		Place: &topics.PlaceHold{Quantity: 1, CustomerID: "buyer-5"}}
	w.send(t, direct)
	if o := answer(direct.RequestID); o.Rejection == nil || o.Rejection.Reason != topics.ReasonAdmissionRequired {
		t.Fatalf("a hold without admission: %s %+v", o.Type, o.Rejection)
	}
	if o := answer(hold("buyer-0", "b", 2)); o.Rejection == nil || o.Rejection.Reason != topics.ReasonAdmissionAllowanceExceeded {
		t.Fatalf("over the allowance: %s %+v", o.Type, o.Rejection)
	}
	h = hold("buyer-1", "c", 4)
	if o := answer(h); o.Type != topics.OutHoldPlaced {
		t.Fatalf("second buyer: %s %+v", o.Type, o.Rejection)
	}
	placed = append(placed, h)
	// 3 tickets left: the zone rejects 4, which the admission gets back.
	if o := answer(hold("buyer-2", "d", 4)); o.Rejection == nil || o.Rejection.Reason != topics.ReasonInsufficientCapacity {
		t.Fatalf("over the zone's tickets: %s %+v", o.Type, o.Rejection)
	}
	h = hold("buyer-2", "e", 3)
	if o := answer(h); o.Type != topics.OutHoldPlaced {
		t.Fatalf("after the credit: %s %+v", o.Type, o.Rejection)
	}
	placed = append(placed, h)
	if o := answer(hold("buyer-3", "f", 1)); o.Rejection == nil || o.Rejection.Reason != topics.ReasonInsufficientCapacity {
		t.Fatalf("sold: %s %+v", o.Type, o.Rejection)
	}
	if o := answer(hold("buyer-0", "g", 9)); o.Rejection == nil || o.Rejection.Reason != topics.ReasonAdmissionAllowanceExceeded {
		t.Fatalf("rejected by the queue writer: %s %+v", o.Type, o.Rejection)
	}
	// Every ticket sold: the zone's stock tells the room, which announces sold out.
	for _, id := range placed {
		w.send(t, &topics.Command{Type: topics.CmdConfirmHold, ZoneID: zone, IdempotencyKey: "confirm-" + id.String(),
			Confirm: &topics.ConfirmHold{HoldID: id}})
	}
	log.wait(t, "sold out", func(all []topics.Outcome) bool { return count(all, topics.OutQueueSoldOut) == 1 })
	log.mu.Lock()
	for i, o := range log.all {
		if topics.IsQueueOutcome(o.Type) && log.keys[i] != w.event.String() {
			t.Errorf("%s keyed %s, want the event", o.Type, log.keys[i])
		}
	}
	log.mu.Unlock()
}
