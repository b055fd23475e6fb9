package processor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// shortTTL is the shortest hold TTL a zone may have.
const shortTTL = topics.HoldTTLMin

// configureShortTTL creates the workload's zones with capacity 10 and a 10 s TTL.
func (w *workload) configureShortTTL(t *testing.T) {
	ttl, capacity := int64(shortTTL/time.Second), int64(10)
	for _, z := range w.zones {
		w.send(t, &topics.Command{Type: topics.CmdConfigureZone, ZoneID: z, Configure: &topics.ConfigureZone{
			EventName: "Log time", ZoneName: "z", Capacity: &capacity, HoldTTLSeconds: &ttl,
		}})
	}
}

func (w *workload) place(t *testing.T, key string) uuid.UUID {
	w.send(t, &topics.Command{Type: topics.CmdPlaceHold, ZoneID: w.zones[0], IdempotencyKey: key, Place: &topics.PlaceHold{Quantity: 1}})
	return w.holds[len(w.holds)-1]
}

func (w *workload) confirm(t *testing.T, hold uuid.UUID) uuid.UUID {
	cmd := &topics.Command{Type: topics.CmdConfirmHold, ZoneID: w.zones[0], IdempotencyKey: "c-" + hold.String(),
		Confirm: &topics.ConfirmHold{HoldID: hold}}
	w.send(t, cmd)
	return cmd.RequestID
}

// eventsOf reads the events topic until every request in want has its answer and
// returns the answers by request id, and every event in order.
func eventsOf(t *testing.T, brokers []string, names topics.Names, want map[uuid.UUID]bool, more func([]topics.Outcome) bool) (map[uuid.UUID]topics.Outcome, []topics.Outcome) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(names.Events),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	answers := map[uuid.UUID]topics.Outcome{}
	var all []topics.Outcome
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for len(answers) < len(want) || (more != nil && more(all)) {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d requests answered; events: %d", len(answers), len(want), len(all))
		}
		fetches.EachRecord(func(r *kgo.Record) {
			e, err := topics.DecodeOutcome(r.Value)
			if err != nil {
				t.Fatalf("offset %d: %v", r.Offset, err)
			}
			all = append(all, e)
			if want[e.RequestID] {
				answers[e.RequestID] = e
			}
		})
	}
	return answers, all
}

// TestConfirmAppendedInTimeWinsAfterDowntime proves that a command is judged at the
// broker's append time: holds placed and confirmed while the processor is down,
// and processed only after their TTL has passed in wall time, are confirmed; and a
// confirm appended in time while the processor is down longer than the TTL after
// placing the hold is confirmed too. Judged at processing time, all were rejected
// hold_expired.
func TestConfirmAppendedInTimeWinsAfterDowntime(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 1, 11)
	w.configureShortTTL(t)

	// Queued before any processor runs: placed and confirmed at once.
	queued := w.place(t, "queued")
	confirmQueued := w.confirm(t, queued)
	time.Sleep(shortTTL + 2*time.Second) // the first processor starts after the TTL
	// Placed and seen by a running processor, which then goes down; the confirm is
	// appended (well within the TTL) while it is down.
	a := startChild(t, brokers, prefix, prefix+"a")
	eventsOf(t, brokers, names, map[uuid.UUID]bool{confirmQueued: true}, nil)
	seen := w.place(t, "seen")
	eventsOf(t, brokers, names, map[uuid.UUID]bool{seen: true}, nil)
	a.terminate(t)
	confirmSeen := w.confirm(t, seen)

	time.Sleep(shortTTL + 2*time.Second) // downtime longer than the TTL
	b := startChild(t, brokers, prefix, prefix+"b")
	defer b.terminate(t)
	got, _ := eventsOf(t, brokers, names, map[uuid.UUID]bool{confirmQueued: true, confirmSeen: true}, nil)
	for _, id := range []uuid.UUID{confirmQueued, confirmSeen} {
		if e := got[id]; e.Type != topics.OutHoldConfirmed {
			t.Errorf("confirm %s answered %s %+v, want hold.confirmed", id, e.Type, e.Rejection)
		}
	}
}

// expiryErrorMax bounds how much later than its TTL a hold expires, measured from
// its placing command's append time to its hold.expired event's append time: the
// tick latency (a poll of TickInterval, a transaction, a fetch) with ample room for
// a loaded test machine. A clock that stayed an hour ahead would miss it by an hour.
const expiryErrorMax = 5 * time.Second

// TestFastClockDoesNotFreezeTimeAfterFailover proves that a processor whose host
// clock runs an hour fast leaves no trace in the partition clock: after a failover
// to a host with a correct clock, a new hold expires within expiryErrorMax of its
// TTL. Before, the fast clock was persisted and time froze for an hour.
func TestFastClockDoesNotFreezeTimeAfterFailover(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	prefix := strings.TrimSuffix(names.Commands, topics.Commands)
	w := newWorkload(t, brokers, names, 1, 12)
	w.configureShortTTL(t)
	first := w.place(t, "under-fast-clock")
	a := startChild(t, brokers, prefix, prefix+"a", "CHILD_CLOCK_SKEW=1h")
	eventsOf(t, brokers, names, map[uuid.UUID]bool{first: true}, nil)
	a.terminate(t)

	b := startChild(t, brokers, prefix, prefix+"b")
	defer b.terminate(t)
	hold := w.place(t, "after-failover")
	placedAt := commandAppendTime(t, brokers, names, hold)
	expired := func(all []topics.Outcome) bool {
		for _, e := range all {
			if e.Type == topics.OutHoldExpired && e.Hold.ID == hold {
				return false
			}
		}
		return true
	}
	_, all := eventsOf(t, brokers, names, map[uuid.UUID]bool{hold: true}, expired)
	for _, e := range all {
		if e.Type == topics.OutHoldExpired && e.Hold.ID == hold {
			late := e.Time.Sub(placedAt) - shortTTL
			t.Logf("hold expired %v after its TTL (partition clock)", late)
			if late < 0 || late > expiryErrorMax {
				t.Fatalf("hold expired %v after its TTL, want within [0, %v]", late, expiryErrorMax)
			}
		}
	}
}

// commandAppendTime returns the broker's append time of the command of request id.
func commandAppendTime(t *testing.T, brokers []string, names topics.Names, id uuid.UUID) time.Time {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(names.Commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		var at time.Time
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if isTick(r) {
				return
			}
			if c, err := topics.DecodeCommand(r.Key, r.Value); err == nil && c.RequestID == id {
				at = r.Timestamp
			}
		})
		if !at.IsZero() {
			return at
		}
	}
	t.Fatalf("command %s not found", id)
	return time.Time{}
}
