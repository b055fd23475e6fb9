package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// clientLimiter is a token bucket per client IP. Its memory is bounded by
// RateClientsMax buckets in two generations: when the current generation holds half
// of them it becomes the previous one and the older is dropped. A client found in
// the previous generation moves back to the current one, so active clients keep
// their bucket; a dropped client comes back with a full bucket.
type clientLimiter struct {
	limit      rate.Limit
	burst      int
	clientsMax int

	mu   sync.Mutex
	cur  map[string]*rate.Limiter
	prev map[string]*rate.Limiter
}

func newClientLimiter(perSecond float64, burst, clientsMax int) *clientLimiter {
	return &clientLimiter{limit: rate.Limit(perSecond), burst: burst, clientsMax: clientsMax,
		cur: make(map[string]*rate.Limiter), prev: make(map[string]*rate.Limiter)}
}

// allow takes a token for client; without one it says how long until the next.
func (l *clientLimiter) allow(client string, now time.Time) (bool, time.Duration) {
	lim := l.bucket(client)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

func (l *clientLimiter) bucket(client string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim, ok := l.cur[client]; ok {
		return lim
	}
	lim, ok := l.prev[client]
	if ok {
		delete(l.prev, client)
	} else {
		lim = rate.NewLimiter(l.limit, l.burst)
	}
	if len(l.cur) >= max(1, l.clientsMax/2) {
		l.prev, l.cur = l.cur, make(map[string]*rate.Limiter, len(l.cur))
	}
	l.cur[client] = lim
	return lim
}

// rateLimit answers 429 with Retry-After (whole seconds, at least 1) to a client
// whose bucket is empty.
func (s *server) rateLimit(l *clientLimiter) gin.HandlerFunc {
	return func(c *gin.Context) {
		ok, wait := l.allow(c.ClientIP(), time.Now())
		if ok {
			c.Next()
			return
		}
		s.metrics.rateLimited.Inc()
		c.Header("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10))
		s.fail(c, newError(KindRateLimited, "rate_limited", "too many requests from this client"))
		c.Abort()
	}
}
