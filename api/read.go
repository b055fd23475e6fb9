package api

import (
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
// requests it accepted: it infers "pending" from the id itself, a UUIDv7 whose
// timestamp is within Config.PendingWindow of now.
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
	if !s.mayBePending(id) {
		s.fail(c, notFound("request_not_found", "request not found"))
		return
	}
	c.Header("Retry-After", "1")
	c.JSON(http.StatusOK, pendingJSON{RequestID: id, Status: RequestPending})
}

// mayBePending reports whether id could name a request this API accepted recently:
// a UUIDv7 (what newCommand makes) created within PendingWindow of now, either way
// to allow for clock skew between API instances.
func (s *server) mayBePending(id uuid.UUID) bool {
	if id.Version() != 7 {
		return false
	}
	sec, nsec := id.Time().UnixTime()
	age := s.now().Sub(time.Unix(sec, nsec))
	return age.Abs() <= s.cfg.PendingWindow
}
