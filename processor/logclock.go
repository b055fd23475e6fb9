package processor

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TickHeader marks a tick: a record without key or value that the processor appends
// to its own commands partition. The broker stamps it with its append time; when the
// processor reads it back, every command appended before it has been applied, so the
// partition clock can move to that stamp without expiring a hold whose confirm was
// appended in time. Anyone may write a tick: its time is the broker's, not the
// writer's. Readers of the commands topic other than the processor skip ticks.
const TickHeader = "ticket-tick"

// tickOutstandingMax is how long a tick may stay unread before another is sent (its
// transaction may have aborted).
const tickOutstandingMax = 5 * time.Second

func tickRecord(topic string, part int32) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: part, Headers: []kgo.RecordHeader{{Key: TickHeader}}}
}

func isTick(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == TickHeader {
			return true
		}
	}
	return false
}

// brokerClock estimates the clock of a partition's leader on the local monotonic
// clock. The broker stamped each record before it arrived here, so stamp - arrival
// bounds the broker's lead from below; the largest bound is kept, and a tick's
// sample, always fresh, replaces it (so a new leader whose clock is behind is
// followed). The estimate only decides when to send a tick: the clock itself moves
// only by stamps read from the log.
type brokerClock struct {
	lead time.Duration
	ok   bool
}

func (c *brokerClock) observe(stamp, arrived time.Time, fresh bool) {
	if d := stamp.Sub(arrived); fresh || !c.ok || d > c.lead {
		c.lead, c.ok = d, true
	}
}

// at estimates the broker's clock at local time now.
func (c *brokerClock) at(now time.Time) (time.Time, bool) { return now.Add(c.lead), c.ok }
