package api

import (
	"math"
	"sync"
	"time"
)

// sojourn is the API's second admission signal, after the in-flight bound: how
// long submits stay in flight (from admission until Kafka has their commands),
// judged as CoDel (RFC 8289) judges a queue. When even the fastest submit of an
// interval took longer than the target, work is piling up faster than the pipeline
// absorbs it, whatever the count in flight: new submits are refused at once (503
// overloaded) until one completes within the target again. A trickle is still
// admitted while refusing (at most sojournTrickle commands in flight), so that the
// signal keeps being measured. An interval is judged only when at least
// sojournSamplesMin submits completed in it. A bound on the count alone cannot do this: the
// count the pipeline can absorb at a given latency differs by orders of magnitude
// between single holds and batches.
type sojourn struct {
	target   time.Duration
	interval time.Duration

	mu          sync.Mutex
	windowStart time.Time
	windowMin   time.Duration // the fastest completion in the current interval
	seen        int           // completions in the current interval
	refusing    bool
}

// sojournTrickle is how many commands may be in flight while refusing.
const sojournTrickle = 64

// sojournSamplesMin is how many submits an interval must see completed to be
// judged: a few slow submits of a quiet API are not a queue.
const sojournSamplesMin = 16

func newSojourn(target, interval time.Duration, now time.Time) *sojourn {
	return &sojourn{target: target, interval: interval, windowStart: now, windowMin: math.MaxInt64}
}

// observe records a submit's time in flight, ending at now.
func (s *sojourn) observe(d time.Duration, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= s.target {
		s.refusing = false // the pipeline absorbs work within the target again
	}
	s.seen++
	s.windowMin = min(s.windowMin, d)
	s.roll(now)
}

// roll closes the interval when it has run out: refusing starts when its fastest
// completion was over the target.
func (s *sojourn) roll(now time.Time) {
	if now.Sub(s.windowStart) < s.interval {
		return
	}
	if s.seen >= sojournSamplesMin && s.windowMin > s.target {
		s.refusing = true
	}
	s.windowStart, s.windowMin, s.seen = now, math.MaxInt64, 0
}

// admits reports whether a submit may start, with inFlight commands in flight
// counting its own.
func (s *sojourn) admits(inFlight int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roll(now)
	return !s.refusing || inFlight <= sojournTrickle
}
