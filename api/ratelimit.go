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
		s.tooManyRequests(c, wait, "too many requests from this client")
	}
}

// tooManyRequests answers 429 rate_limited with Retry-After: wait in whole
// seconds, at least 1.
func (s *server) tooManyRequests(c *gin.Context, wait time.Duration, message string) {
	s.metrics.rateLimited.Inc()
	c.Header("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(wait.Seconds()))), 10))
	s.fail(c, newError(KindRateLimited, "rate_limited", message))
	c.Abort()
}

// buyerLimiter is a token bucket per verified customer id, beside the per-IP
// buckets: a buyer spreading requests over many addresses still has one bucket,
// and buyers behind one address (a campus, a carrier's NAT) do not share theirs.
// Its memory is bounded like clientLimiter's. A nil *buyerLimiter limits nothing.
type buyerLimiter struct {
	buckets *clientLimiter
}

// newBuyerLimiter gives perSecond tokens a second to each buyer, up to burst, for
// at most buyersMax buyers held in memory; nil (no limit) when perSecond is 0.
// Non-positive burst or buyersMax with a limit are programmer errors and panic:
// the Config that sets them validates them.
func newBuyerLimiter(perSecond float64, burst, buyersMax int) *buyerLimiter {
	if perSecond == 0 {
		return nil
	}
	if perSecond < 0 || burst < 1 || buyersMax < 1 {
		panic("api: buyer limiter needs a positive rate, burst and buyersMax")
	}
	return &buyerLimiter{buckets: newClientLimiter(perSecond, burst, buyersMax)}
}

// allow takes a token for customerID; without one it says how long until the next.
func (l *buyerLimiter) allow(customerID string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	return l.buckets.allow(customerID, now)
}

// limitBuyer is the per-buyer check of join and submit, to call once the buyer
// is verified: it takes a token from customerID's bucket and, without one,
// answers 429 rate_limited with Retry-After and returns false (the handler
// returns). An empty customerID (a submit without a buyer) is not limited here:
// the per-IP buckets cover it.
func (s *server) limitBuyer(c *gin.Context, l *buyerLimiter, customerID string) bool {
	if customerID == "" {
		return true
	}
	ok, wait := l.allow(customerID, time.Now())
	if !ok {
		s.tooManyRequests(c, wait, "too many requests from this buyer")
	}
	return ok
}
