package api

import (
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/internal/admittoken"
	"github.com/ultimate-ticket/ultimate-ticket/internal/buyer"
	"github.com/ultimate-ticket/ultimate-ticket/internal/pow"
	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// roomUnavailable answers the queue routes of an API run without RoomDeps.
func roomUnavailable() *Error {
	return unavailable("waiting_room_unavailable", "this API does not serve waiting rooms", nil)
}

// challengeJSON is GET /events/{id}/challenge: find a nonce such that
// SHA-256(token ‖ nonce) has difficulty leading zero bits.
type challengeJSON struct {
	Required   bool       `json:"required"`
	Token      string     `json:"token,omitempty"`
	Difficulty int        `json:"difficulty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	Algorithm  string     `json:"algorithm,omitempty"`
}

// getChallenge issues a stateless proof-of-work challenge for joining the event's
// queue. It reads nothing: a flood of challenges costs a signature each.
func (s *server) getChallenge(c *gin.Context) {
	if s.room == nil {
		s.fail(c, roomUnavailable())
		return
	}
	eventID, err := parseID(c.Param("id"), "event id")
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if s.room.PoW == nil {
		c.JSON(http.StatusOK, challengeJSON{Required: false})
		return
	}
	ch := s.room.PoW.Issue(eventID, s.now())
	s.roomMetrics.challenges.Inc()
	c.JSON(http.StatusOK, challengeJSON{Required: true, Token: ch.Token, Difficulty: ch.Difficulty,
		ExpiresAt: &ch.ExpiresAt, Algorithm: "sha256-leading-zero-bits"})
}

// joinQueueBody is POST /events/{id}/queue.
type joinQueueBody struct {
	CustomerID *string `json:"customer_id"`
	Challenge  *string `json:"challenge"`
	Nonce      *string `json:"nonce"`
}

// joinQueue puts the buyer in the event's waiting room: the buyer verified (bearer
// token) and the proof of work checked, it publishes queue.join keyed by the event
// and waits up to RoomDeps.JoinWait for the place: 201 with it, 202 if it is not
// decided by then (GET /queue/{id} follows it). A buyer already waiting or
// admitted gets that place back.
func (s *server) joinQueue(c *gin.Context) {
	if s.room == nil {
		s.fail(c, roomUnavailable())
		return
	}
	eventID, bad := parseID(c.Param("id"), "event id")
	var b joinQueueBody
	if bad == nil {
		bad = s.decodeJSON(c, &b)
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	customer, bad := s.buyer(c, b.CustomerID)
	if bad == nil {
		bad = s.checkWork(c, &b, eventID)
	}
	if bad == nil {
		bad = s.roomOpen(c, eventID)
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	cmd := s.newQueueCommand(topics.CmdJoinQueue, eventID)
	if customer == "" {
		// A self-declared buyer who declared nothing gets a name of its own.
		customer = "guest:" + cmd.RequestID.String()
	}
	cmd.Join = &topics.JoinQueue{CustomerID: customer}
	if !s.admit(c, 1) {
		return
	}
	errs := s.publishAll(c, []*topics.Command{cmd})
	s.published(c, 1)
	if errs[0] != nil {
		s.fail(c, errs[0])
		return
	}
	s.joined(c, cmd, customer)
}

// joined answers a published join once it is decided, or 202.
func (s *server) joined(c *gin.Context, cmd *topics.Command, customer string) {
	wait := s.room.JoinWait
	if d, ok := preferWait(c.Request.Header); ok {
		wait = min(d, s.cfg.WaitMax)
	}
	r, decided, _ := s.waiters.wait(c.Request.Context(), cmd.RequestID, time.Now().Add(wait))
	if !decided {
		s.roomMetrics.joins.WithLabelValues(joinPending).Inc()
		s.roomMetrics.answers.WithLabelValues(queuePending).Inc()
		s.accepted(c, "/queue/"+cmd.RequestID.String(), queueJSON{QueueID: cmd.RequestID, EventID: cmd.EventID,
			CustomerID: customer, Status: queuePending})
		return
	}
	if r.Status != RequestSucceeded {
		s.roomMetrics.joins.WithLabelValues(joinRejected).Inc()
		s.fail(c, rejectionError(r.Reason, r.Message, nil))
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	var v QueueView
	var err error
	if r.Replayed {
		v, err = s.room.Reads.CustomerEntry(ctx, cmd.EventID, customer)
	} else {
		v, err = s.queueView(c, cmd.RequestID)
	}
	if err != nil {
		s.fail(c, readError(err, unavailable("queue_entry_missing", "the place is decided but not readable yet; follow Location", err)))
		return
	}
	j, bad := s.answerJSON(&v)
	if bad != nil {
		s.fail(c, bad)
		return
	}
	j.Replayed = r.Replayed
	outcome := joinJoined
	if r.Replayed {
		outcome = joinReplayed
	}
	s.roomMetrics.joins.WithLabelValues(outcome).Inc()
	c.Header("Location", "/queue/"+j.QueueID.String())
	c.JSON(http.StatusCreated, j)
}

// queueView reads one entry with its room; ErrNotFound when there is none.
func (s *server) queueView(c *gin.Context, id uuid.UUID) (QueueView, error) {
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	views, err := s.room.Reads.QueueViews(ctx, []uuid.UUID{id})
	if err != nil {
		return QueueView{}, err
	}
	for _, v := range views {
		if v.Entry.QueueID == id {
			return v, nil
		}
	}
	return QueueView{}, fmt.Errorf("queue entry %s: %w", id, ErrNotFound)
}

// roomOpen checks that the event has a waiting room that takes joins, so that
// joins of events without one stay off Kafka; the queue writer judges the times.
func (s *server) roomOpen(c *gin.Context, eventID uuid.UUID) *Error {
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	room, err := s.room.Reads.Room(ctx, eventID)
	if err != nil {
		return readError(err, notFound(string(topics.ReasonQueueNotFound), "this event has no waiting room"))
	}
	if !room.Enabled {
		return newError(KindConflict, string(topics.ReasonQueueNotOpen), "the waiting room is closed")
	}
	return nil
}

// checkWork checks the join's proof of work, when challenges are required.
func (s *server) checkWork(c *gin.Context, b *joinQueueBody, eventID uuid.UUID) *Error {
	if s.room.PoW == nil {
		return nil
	}
	if b.Challenge == nil || b.Nonce == nil {
		s.roomMetrics.challengeRejected.WithLabelValues("missing").Inc()
		e := newError(KindForbidden, "challenge_required", "solve GET /events/{id}/challenge and send challenge and nonce")
		e.Reason = "missing"
		return e
	}
	now := s.now()
	solved, err := s.room.PoW.Check(*b.Challenge, *b.Nonce, eventID, now)
	if err != nil {
		reason := string(pow.ReasonOf(err))
		if reason == "" {
			reason = string(pow.ReasonMalformed)
		}
		s.roomMetrics.challengeRejected.WithLabelValues(reason).Inc()
		e := newError(KindForbidden, "challenge_invalid", "the proof of work is not accepted: "+reason)
		e.Reason = reason
		return e
	}
	s.roomMetrics.challengeSolve.Observe(now.Sub(solved.IssuedAt).Seconds())
	return nil
}

// buyerKey keeps a request's verified buyer in its gin context: a batch verifies
// the bearer token once.
const buyerKey = "api.buyer"

// buyer is the customer a request acts for: the subject of the verified bearer
// token when RoomDeps.Buyers is set (a body customer_id must then agree), else the
// body's customer_id ("" when absent).
func (s *server) buyer(c *gin.Context, declared *string) (string, *Error) {
	if declared != nil {
		if err := checkText(*declared, "customer_id", customerIDBytesMax); err != nil {
			return "", err
		}
	}
	if s.room == nil || s.room.Buyers == nil {
		if declared == nil {
			return "", nil
		}
		return *declared, nil
	}
	id, err := s.verifiedBuyer(c)
	if err != nil {
		return "", err
	}
	if declared != nil && *declared != id {
		s.roomMetrics.buyerRejected.WithLabelValues("mismatch").Inc()
		e := newError(KindForbidden, "customer_mismatch", "customer_id is not the buyer of the bearer token")
		e.Reason = "mismatch"
		return "", e
	}
	return id, nil
}

// verifiedBuyer verifies the request's bearer token once and applies the
// per-buyer rate limit.
func (s *server) verifiedBuyer(c *gin.Context) (string, *Error) {
	if v, ok := c.Get(buyerKey); ok {
		return v.(string), nil
	}
	now := s.now()
	id, err := s.room.Buyers.VerifyHeader(c.Request.Context(), c.GetHeader("Authorization"), now)
	if err != nil {
		reason := string(buyer.ReasonOf(err))
		if reason == "" {
			reason = string(buyer.ReasonInvalid)
		}
		s.roomMetrics.buyerRejected.WithLabelValues(reason).Inc()
		c.Header("WWW-Authenticate", `Bearer realm="ultimate-ticket buyer"`)
		e := newError(KindUnauthorized, "buyer_unverified", "a valid buyer bearer token is required: "+reason)
		e.Reason = reason
		return "", e
	}
	if ok, wait := s.buyerLimiter.allow(id, now); !ok {
		s.metrics.rateLimited.Inc()
		c.Header("Retry-After", fmt.Sprint(max(1, int64(math.Ceil(wait.Seconds())))))
		return "", newError(KindRateLimited, "rate_limited", "too many requests from this buyer")
	}
	c.Set(buyerKey, id)
	return id, nil
}

// answerJSON is a buyer's answer: the view, with a signed admission token when
// admitted.
func (s *server) answerJSON(v *QueueView) (queueJSON, *Error) {
	now := s.now()
	j := viewJSON(v, now)
	if j.Status == queueAdmitted {
		token, err := s.room.Signer.Sign(admittoken.Claims{EventID: v.Entry.EventID, QueueID: v.Entry.QueueID,
			CustomerID: v.Entry.CustomerID, Allowance: v.Entry.Allowance, IssuedAt: now, ExpiresAt: *v.Entry.ExpiresAt})
		if err != nil {
			return j, &Error{Kind: KindInternal, Code: "internal", Message: "internal error", Cause: err}
		}
		j.AdmissionToken = token
		s.roomMetrics.tokensIssued.Inc()
	}
	s.roomMetrics.answers.WithLabelValues(j.Status).Inc()
	return j, nil
}
