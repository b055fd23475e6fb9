package api

import (
	"sync/atomic"

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

// admit reserves n in-flight commands for the request, or answers 503 overloaded
// and returns false. The caller gives them back once published or abandoned.
func (s *server) admit(c *gin.Context, n int) bool {
	if s.inFlight.take(n) {
		return true
	}
	s.metrics.overloaded.Inc()
	s.fail(c, overloaded())
	return false
}
