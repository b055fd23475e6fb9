package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

func (s *server) getHold(c *gin.Context) {
	id, err := parseID(c.Param("id"), "hold id")
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	h, rerr := s.deps.Reads.Hold(ctx, id)
	if rerr != nil {
		s.fail(c, readError(rerr, notFound("hold_not_found", "hold not found")))
		return
	}
	c.JSON(http.StatusOK, toHoldJSON(&h))
}

func (s *server) getOrder(c *gin.Context) {
	id, err := parseID(c.Param("id"), "order id")
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	o, rerr := s.deps.Reads.Order(ctx, id)
	if rerr != nil {
		s.fail(c, readError(rerr, notFound("order_not_found", "order not found")))
		return
	}
	c.JSON(http.StatusOK, toOrderJSON(&o))
}

func (s *server) getEvent(c *gin.Context) {
	if e, ok := s.event(c); ok {
		c.JSON(http.StatusOK, toEventJSON(&e))
	}
}

func (s *server) getAvailability(c *gin.Context) {
	if e, ok := s.event(c); ok {
		c.JSON(http.StatusOK, toAvailabilityJSON(&e))
	}
}

// event reads the event named in the path, or answers the error.
func (s *server) event(c *gin.Context) (Event, bool) {
	id, err := parseID(c.Param("id"), "event id")
	if err != nil {
		s.fail(c, err)
		return Event{}, false
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	e, rerr := s.deps.Reads.Event(ctx, id)
	if rerr != nil {
		s.fail(c, readError(rerr, notFound("event_not_found", "event not found")))
		return Event{}, false
	}
	return e, true
}

// getRequest answers a request's result, "pending" for one the sink has not recorded
// yet, or 404. The API writes nothing to Postgres, so it keeps no record of the
// requests it accepted; instead each request id says where its command went (see
// newRequestID), and an unknown id is pending until the read model has moved past
// it on that partition (see mayBePending).
func (s *server) getRequest(c *gin.Context) {
	id, err := parseID(c.Param("id"), "request id")
	if err != nil {
		s.fail(c, err)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	results, rerr := s.deps.Reads.RequestResults(ctx, []uuid.UUID{id})
	if rerr != nil {
		s.fail(c, readError(rerr, nil))
		return
	}
	for i := range results {
		if results[i].ID == id {
			c.JSON(http.StatusOK, toRequestJSON(&results[i]))
			return
		}
	}
	pending, rerr := s.mayBePending(ctx, id)
	if rerr != nil {
		s.fail(c, readError(rerr, nil))
		return
	}
	if !pending {
		s.fail(c, notFound("request_not_found", "request not found"))
		return
	}
	c.Header("Retry-After", "1")
	c.JSON(http.StatusOK, pendingJSON{RequestID: id, Status: RequestPending})
}

// mayBePending reports whether an id the read model does not know could name a
// request this API accepted and the pipeline has not decided yet. It could unless
// it is not a request id (not a v7, or naming a partition that does not exist), or
// its partition is decided through a time later than the id's time plus
// decidedMargin: a command published under the id was appended by then (within
// PublishTimeout, allowing ClockSkewMax between the clocks), the processor decides
// a partition's commands in log order with a clock that never goes back, and the
// sink writes them in that order, so its result would be in the read model. Wall
// time alone never turns a request unknown: while the processor or the sink is
// down, every accepted request stays pending.
func (s *server) mayBePending(ctx context.Context, id uuid.UUID) (bool, error) {
	return s.mayBePendingSeen(ctx, id, nil)
}

// mayBePendingSeen is mayBePending keeping each partition's progress in seen (when
// not nil), so that many ids cost one query per partition.
func (s *server) mayBePendingSeen(ctx context.Context, id uuid.UUID, seen map[int32]time.Time) (bool, error) {
	if id.Version() != 7 {
		return false, nil
	}
	p := requestPartition(id)
	if p >= s.cfg.Partitions {
		return false, nil
	}
	through, ok := seen[p]
	if !ok {
		var err error
		if through, err = s.deps.Reads.DecidedThrough(ctx, p); err != nil {
			return false, err
		}
		if seen != nil {
			seen[p] = through
		}
	}
	sec, nsec := id.Time().UnixTime()
	return !through.After(time.Unix(sec, nsec).Add(s.decidedMargin())), nil
}

// decidedMargin is how long after a request id's time its command may still be
// appended to its partition: PublishTimeout, plus ClockSkewMax between the API's
// clock and the brokers'.
func (s *server) decidedMargin() time.Duration {
	return s.cfg.PublishTimeout + s.cfg.ClockSkewMax
}

// newRequestID mints a request id: a UUIDv7 (RFC 9562) with the time now, whose 12
// rand_a bits hold the partition of the commands topic the command goes to, and
// whose 62 rand_b bits are random. The partition lets GET /requests/{id} tell an
// unknown id from a pending one by the partition's progress, not by wall time.
func newRequestID(now time.Time, partition int32) uuid.UUID {
	id := uuid.New() // random, with the RFC 9562 variant bits set
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		id[i] = byte(ms >> (40 - 8*i))
	}
	id[6] = 0x70 | byte(partition>>8)&0x0f
	id[7] = byte(partition)
	return id
}

// requestPartition is the partition newRequestID put in id.
func requestPartition(id uuid.UUID) int32 {
	return int32(id[6]&0x0f)<<8 | int32(id[7])
}
