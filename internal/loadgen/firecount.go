package loadgen

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// secCount is one second's counts, in holds: what was due in it (offered, shed) by
// due time, the answers by the time they arrived.
type secCount struct {
	offered, shed, accepted, denied, rejected, errors, timeouts atomic.Int64
}

// counters are a fire run's counts; safe for concurrent use.
type counters struct {
	secs []secCount

	accepted, denied, rejected, errors, timeouts atomic.Int64 // holds
	sampleSkipped, sampleTimeouts, sampleErrors  atomic.Int64

	mu       sync.Mutex
	acc, rej Histogram    // latency of accepted and of rejected (429/503) answers
	accSec   []*Histogram // per second of arrival, allocated when used
	rejSec   []*Histogram
	vis      Histogram // submit-to-visible of the samples
	kinds    map[string]int64
}

func newCounters(seconds int) *counters {
	return &counters{secs: make([]secCount, seconds), accSec: make([]*Histogram, seconds),
		rejSec: make([]*Histogram, seconds), kinds: map[string]int64{}}
}

func (c *counters) index(at time.Duration) int {
	return min(max(int(at/time.Second), 0), len(c.secs)-1)
}

func (c *counters) second(at time.Duration) *secCount { return &c.secs[c.index(at)] }

// answered counts an answer arriving at at after lat: holds accepted, denied
// (decided against, or refused as a whole with 409/404/422), invalid, and rejected
// for overload (429/503).
func (c *counters) answered(at, lat time.Duration, accepted, denied, invalid, rejected int) {
	s := c.second(at)
	if accepted > 0 {
		s.accepted.Add(int64(accepted))
		c.accepted.Add(int64(accepted))
	}
	if denied > 0 {
		s.denied.Add(int64(denied))
		c.denied.Add(int64(denied))
	}
	if invalid > 0 {
		s.errors.Add(int64(invalid))
		c.errors.Add(int64(invalid))
	}
	if rejected > 0 {
		s.rejected.Add(int64(rejected))
		c.rejected.Add(int64(rejected))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if invalid > 0 {
		c.kinds["batch_item_invalid"] += int64(invalid)
	}
	i := c.index(at)
	switch {
	case lat < 0: // a sampled request that waited: its latency is not a submit's
	case rejected > 0:
		c.rej.Add(lat)
		c.rejSec[i] = addTo(c.rejSec[i], lat)
	case accepted > 0:
		c.acc.Add(lat)
		c.accSec[i] = addTo(c.accSec[i], lat)
	}
}

func addTo(h *Histogram, d time.Duration) *Histogram {
	if h == nil {
		h = new(Histogram)
	}
	h.Add(d)
	return h
}

// failed counts a submit without an answer: a timeout, or an error of the transport.
func (c *counters) failed(at time.Duration, holds int, err error) {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		c.second(at).timeouts.Add(int64(holds))
		c.timeouts.Add(int64(holds))
		return
	}
	kind := "transport"
	if errors.Is(err, context.Canceled) {
		kind = "cancelled"
	}
	c.errorKind(at, holds, kind)
}

// errorKind counts holds of a request that failed for kind.
func (c *counters) errorKind(at time.Duration, holds int, kind string) {
	c.second(at).errors.Add(int64(holds))
	c.errors.Add(int64(holds))
	c.mu.Lock()
	c.kinds[kind] += int64(holds)
	c.mu.Unlock()
}

// visible counts a sample's submit-to-visible latency.
func (c *counters) visible(d time.Duration) {
	c.mu.Lock()
	c.vis.Add(d)
	c.mu.Unlock()
}

// pointsMax bounds the availability reads kept of one run.
const pointsMax = 100_000

// VisiblePoint is one read of the availability: T seconds after the start, Visible
// holds in the read model (held+sold, counted from the run's start) and Accepted
// holds answered by then.
type VisiblePoint struct {
	T        float64 `json:"t_s"`
	Visible  int64   `json:"visible"`
	Accepted int64   `json:"accepted"`
}

// visibility reads the event's availability every VisiblePoll until, once the sends
// are over, every accepted hold is visible or VisibleWait has passed.
type visibility struct {
	f    *fire
	base int64 // held+sold before the run

	mu      sync.Mutex
	points  []VisiblePoint
	ended   bool
	endedAt time.Time
	final   int64 // accepted holds, all answers in
	reached chan struct{}
}

func newVisibility(f *fire, base int64) *visibility {
	return &visibility{f: f, base: base, reached: make(chan struct{})}
}

// sendsDone says the sends are over and every answer is in: final holds accepted.
func (v *visibility) sendsDone(_ time.Time, final int64) {
	v.mu.Lock()
	v.ended, v.endedAt, v.final = true, time.Now(), final
	v.mu.Unlock()
}

func (v *visibility) run(ctx context.Context) {
	t := time.NewTicker(v.f.cfg.VisiblePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		av, err := ReadAvailability(ctx, v.f.side, v.f.base, v.f.cfg.Target.EventID)
		now := time.Now()
		v.mu.Lock()
		if err == nil && len(v.points) < pointsMax {
			v.points = append(v.points, VisiblePoint{T: now.Sub(v.f.start).Seconds(), Visible: av.Taken() - v.base,
				Accepted: v.f.counts.accepted.Load()})
		}
		done := v.ended && err == nil && av.Taken()-v.base >= v.final
		expired := v.ended && now.Sub(v.endedAt) > v.f.cfg.VisibleWait
		v.mu.Unlock()
		if done {
			close(v.reached)
			return
		}
		if expired {
			return
		}
	}
}

// snapshot is a copy of the reads so far.
func (v *visibility) snapshot() []VisiblePoint {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]VisiblePoint(nil), v.points...)
}
