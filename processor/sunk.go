package processor

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// SunkGraceDefault is how old an observation of the sink's progress must be, in
// partition-clock time, before the state may forget idempotency keys it covers. A
// request whose key the API looked up in the read model just before the sink wrote
// it is published within the API's publish timeout; the grace must exceed that
// timeout plus the fetch slop of the observation (sinkPollInterval) plus the clock
// skew between the API host and the brokers, so that such a request is applied (and
// answered from the key the state still has) before the key is forgotten.
const SunkGraceDefault = time.Minute

// sinkPollInterval is how often the sink group's committed offsets are read.
const sinkPollInterval = time.Second

// Bounds of the per-partition bookkeeping of what the sink has written.
const (
	// txnMarksMax bounds the committed transactions remembered; when it is reached
	// the oldest is dropped, which only coarsens the answer (offsets grow, so a
	// later mark below the sink's offset covers the dropped ones).
	txnMarksMax = 4096
	// sinkObsMax bounds the observations kept while they age into the grace.
	sinkObsMax = 256
)

// txnMark is one committed transaction of a partition: the events-topic offset of
// its last outcome and the partition clock when it committed.
type txnMark struct {
	offset int64
	clock  time.Time
}

// sinkObs is one reading of the sink group's committed offset of the partition
// (the next offset it will write), stamped with the estimated broker time.
type sinkObs struct {
	at   time.Time
	next int64
}

// sunkTracker follows how far the read model has got for one partition.
type sunkTracker struct {
	marks   []txnMark // oldest first, offsets increasing
	obs     []sinkObs // oldest first
	through time.Time // last value given to the state
}

func (s *sunkTracker) mark(m txnMark) {
	if len(s.marks) == txnMarksMax {
		s.marks = append(s.marks[:0], s.marks[1:]...)
	}
	s.marks = append(s.marks, m)
}

func (s *sunkTracker) observe(o sinkObs) {
	if n := len(s.obs); n > 0 && s.obs[n-1].next == o.next {
		return // nothing new: the older observation stays, and ages first
	}
	if len(s.obs) == sinkObsMax {
		s.obs = append(s.obs[:0], s.obs[1:]...)
	}
	s.obs = append(s.obs, o)
}

// advance returns the new sunk-through time, if it moved, given the partition
// clock: it uses the newest observation at least grace old, and drops the marks and
// observations it no longer needs.
func (s *sunkTracker) advance(clock time.Time, grace time.Duration) (time.Time, bool) {
	i := agedObservation(s.obs, clock, grace)
	if i < 0 {
		return time.Time{}, false
	}
	next := s.obs[i].next
	s.obs = append(s.obs[:0], s.obs[i:]...)
	t, j := sunkThrough(s.marks, next)
	if j < 0 {
		return time.Time{}, false
	}
	s.marks = append(s.marks[:0], s.marks[j:]...) // the last sunk mark still bounds the next answer
	if !t.After(s.through) {
		return time.Time{}, false
	}
	s.through = t
	return t, true
}

// agedObservation returns the index of the newest observation made at least grace
// before clock, or -1.
func agedObservation(obs []sinkObs, clock time.Time, grace time.Duration) int {
	for i := len(obs) - 1; i >= 0; i-- {
		if !obs[i].at.Add(grace).After(clock) {
			return i
		}
	}
	return -1
}

// sunkThrough derives the newest partition-clock time t such that every outcome
// decided at or before t has an offset below next, the sink's committed offset:
// with j the last transaction whose last outcome is below next, every earlier outcome
// is too, and a later transaction decides at its clock or later, so t is mark j's
// clock less one nanosecond. It returns j, or -1 when no mark is below next.
func sunkThrough(marks []txnMark, next int64) (time.Time, int) {
	j := -1
	for i := range marks {
		if marks[i].offset >= next {
			break
		}
		j = i
	}
	if j < 0 {
		return time.Time{}, -1
	}
	return marks[j].clock.Add(-time.Nanosecond), j
}

// followSink reads the sink group's committed offsets of the events topic every
// sinkPollInterval until ctx is done. A failed read is logged and tried again.
func (p *Processor) followSink(ctx context.Context) {
	t := time.NewTicker(sinkPollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, sinkPollInterval)
		offs, err := p.adm.FetchOffsetsForTopics(rctx, p.cfg.SinkGroup, p.cfg.Topics.Events)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				p.log.Debug("read sink offsets", "group", p.cfg.SinkGroup, "err", err)
			}
			continue
		}
		next := map[int32]int64{}
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.Topic == p.cfg.Topics.Events && o.At >= 0 {
				next[o.Partition] = o.At
			}
		})
		p.sinkMu.Lock()
		p.sinkNext = next
		p.sinkSeq++
		p.sinkMu.Unlock()
	}
}

// followSunk records the newest reading of the sink's offsets in every owned
// partition and tells each state how far the read model has got.
func (p *Processor) followSunk() {
	p.sinkMu.Lock()
	seq, next := p.sinkSeq, p.sinkNext
	p.sinkMu.Unlock()
	now := p.cfg.Now()
	for id, part := range p.parts {
		if part.sinkSeq != seq {
			part.sinkSeq = seq
			if n, ok := next[id]; ok {
				at, known := part.broker.at(now)
				if !known || at.Before(part.state.Clock()) {
					at = part.state.Clock()
				}
				part.sunk.observe(sinkObs{at: at, next: n})
			}
		}
		if t, ok := part.sunk.advance(part.state.Clock(), p.cfg.SunkGrace); ok {
			part.state.SetSunkThrough(t)
			p.m.sunkThrough.WithLabelValues(strconv.Itoa(int(id))).Set(float64(t.UnixNano()) / 1e9)
			if p.onSunk != nil {
				p.onSunk(id, t)
			}
		}
	}
}
