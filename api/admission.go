package api

import (
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// inFlight bounds the commands being published at once (Config.InFlightMax). It
// is the API's measure of what the pipeline can absorb: when Kafka or the
// machine falls behind, acknowledgements slow down, commands pile up in flight,
// and new submits are turned away at once (503 with Retry-After) instead of
// queueing until they time out. A submit takes its commands' share before it
// looks up its keys, so turning it away costs no query.
type inFlight struct {
	max int64
	n   atomic.Int64
}

// take reserves n commands; false, and nothing reserved, when that would go over
// the bound.
func (f *inFlight) take(n int) bool {
	for {
		cur := f.n.Load()
		if cur+int64(n) > f.max {
			return false
		}
		if f.n.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// give returns n commands reserved by take.
func (f *inFlight) give(n int) {
	if f.n.Add(-int64(n)) < 0 {
		panic("api: more in-flight commands given back than taken")
	}
}

// overloaded is the error of a submit turned away by the in-flight bound.
func overloaded() *Error {
	return unavailable("overloaded",
		"the system is at capacity; retry after the Retry-After delay (with the same idempotency key)", nil)
}

// admittedAt is the gin context key of a submit's admission time.
const admittedAt = "ticket.admitted_at"

// admit reserves n in-flight commands for the request, or answers 503 overloaded
// and returns false: when the in-flight bound would be passed, or when submits
// stay in flight too long (see sojourn). The caller gives the commands back:
// published (published), or abandoned (inFlight.give).
func (s *server) admit(c *gin.Context, n int) bool {
	now := time.Now()
	reason := ""
	switch {
	case !s.sojourn.admits(s.inFlight.n.Load()+int64(n), now):
		reason = "latency"
	case !s.inFlight.take(n):
		reason = "in_flight"
	}
	if reason != "" {
		s.metrics.overloaded.WithLabelValues(reason).Inc()
		s.fail(c, overloaded())
		return false
	}
	c.Set(admittedAt, now)
	return true
}

// published gives back the n in-flight commands of a submit whose commands Kafka
// has (or refused), and records how long it was in flight.
func (s *server) published(c *gin.Context, n int) {
	s.inFlight.give(n)
	if t, ok := c.Get(admittedAt); ok {
		now := time.Now()
		d := now.Sub(t.(time.Time))
		s.sojourn.observe(d, now)
		s.metrics.inFlightSeconds.Observe(d.Seconds())
	}
}
