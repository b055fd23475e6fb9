package processor

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/ultimate-ticket/ultimate-ticket/internal/testenv"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// t0 is the partition-clock origin of the tests without Kafka.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSunkThroughDerivation(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	marks := []txnMark{{offset: 4, clock: at(1)}, {offset: 9, clock: at(2)}, {offset: 12, clock: at(2)}, {offset: 20, clock: at(5)}}
	for _, c := range []struct {
		next  int64
		want  time.Time
		index int
	}{
		{next: 0, index: -1},
		{next: 4, index: -1}, // offset 4 is not below 4: nothing is sunk
		{next: 5, want: at(1).Add(-time.Nanosecond), index: 0},
		{next: 12, want: at(2).Add(-time.Nanosecond), index: 1}, // the next transaction decided at 2 s too
		{next: 13, want: at(2).Add(-time.Nanosecond), index: 2},
		{next: 100, want: at(5).Add(-time.Nanosecond), index: 3},
	} {
		got, i := sunkThrough(marks, c.next)
		if i != c.index || !got.Equal(c.want) {
			t.Errorf("next %d: %v at %d, want %v at %d", c.next, got, i, c.want, c.index)
		}
	}
}

func TestSunkTrackerGraceAndBounds(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var s sunkTracker
	s.mark(txnMark{offset: 3, clock: at(1)})
	s.mark(txnMark{offset: 8, clock: at(3)})
	s.observe(sinkObs{at: at(4), next: 9})
	if _, ok := s.advance(at(63), time.Minute); ok {
		t.Fatal("advanced with an observation younger than the grace")
	}
	got, ok := s.advance(at(64), time.Minute)
	if !ok || !got.Equal(at(3).Add(-time.Nanosecond)) {
		t.Fatalf("advance = %v %v, want %v", got, ok, at(3).Add(-time.Nanosecond))
	}
	if _, ok := s.advance(at(65), time.Minute); ok {
		t.Fatal("advanced again with nothing new")
	}
	for i := range txnMarksMax + 10 {
		s.mark(txnMark{offset: int64(10 + i), clock: at(100 + i)})
	}
	for i := range sinkObsMax + 10 {
		s.observe(sinkObs{at: at(i), next: int64(i)})
	}
	if len(s.marks) > txnMarksMax || len(s.obs) > sinkObsMax {
		t.Fatalf("%d marks, %d observations: bounds not kept", len(s.marks), len(s.obs))
	}
}

// TestSunkThroughFollowsSinkGroup proves that the processor reads the sink group's
// committed offsets of the events topic and tells the states how far the read
// model has got.
func TestSunkThroughFollowsSinkGroup(t *testing.T) {
	brokers := testenv.Kafka(t)
	names := testenv.Topics(t, 3)
	sunk := make(chan time.Time, 64)
	p := newTestProcessor(t, brokers, names, "sunk", func(c *LoopConfig) {
		c.SinkGroup = names.Commands + "-sink"
		c.SunkGrace = time.Millisecond
	})
	p.onSunk = func(_ int32, at time.Time) {
		select {
		case sunk <- at:
		default:
		}
	}
	run(t, p)
	w := newWorkload(t, brokers, names, 1, 41)
	w.configure(t, 10)
	w.random(t, 20)
	checkEvents(t, brokers, names, w.requests)
	decided := lastOutcome(t, brokers, names).Time

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := p.adm.ListEndOffsets(ctx, names.Events)
	if err != nil {
		t.Fatal(err)
	}
	var offs kadm.Offsets
	ends.Each(func(o kadm.ListedOffset) {
		offs.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
	})
	commitGroup(t, p.adm, p.cfg.SinkGroup, offs)
	for {
		// Commands move the partition clock past the observation and its grace.
		w.send(t, &topics.Command{Type: topics.CmdPlaceHold, ZoneID: w.zones[0], Place: &topics.PlaceHold{Quantity: 1}})
		select {
		case at := <-sunk:
			if !at.Before(decided.Add(-time.Nanosecond)) {
				return
			}
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("sunk-through never reached %v", decided)
		}
	}
}
