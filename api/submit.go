package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// placeHoldBody is POST /holds. Pointers tell a missing field from a zero one.
type placeHoldBody struct {
	EventID        *string `json:"event_id"`
	ZoneID         *string `json:"zone_id"`
	Quantity       *int64  `json:"quantity"`
	IdempotencyKey *string `json:"idempotency_key"`
	CustomerID     *string `json:"customer_id"`
}

// pendingJSON is the 202 answer to a submit.
type pendingJSON struct {
	RequestID uuid.UUID     `json:"request_id"`
	Status    RequestStatus `json:"status"`
}

func (s *server) placeHold(c *gin.Context) {
	var b placeHoldBody
	if err := s.decodeJSON(c, &b); err != nil {
		s.fail(c, err)
		return
	}
	cmd, err := s.holdCommand(c, &b)
	if err != nil {
		s.fail(c, err)
		return
	}
	if !s.admit(c, 1) {
		return
	}
	prior, err := s.keyDecisions(c, []ZoneKey{{Zone: cmd.ZoneID, Key: cmd.IdempotencyKey}})
	if err != nil {
		s.inFlight.give(1)
		s.fail(c, err)
		return
	}
	s.submitOrReplay(c, cmd, prior[0])
}

// holdCommand checks a hold (the body of POST /holds, or an item of a batch) and
// builds its command. The zone comes from the API's copy (see zoneCache): no query
// while it is fresh.
func (s *server) holdCommand(c *gin.Context, b *placeHoldBody) (*topics.Command, *Error) {
	cmd, err := s.holdBody(b)
	if err != nil {
		return nil, err
	}
	zone, err := s.zoneOfEvent(c, cmd.EventID, cmd.ZoneID)
	if err != nil {
		return nil, err
	}
	if zone.WaitingRoom {
		if err := s.admitHold(c, cmd); err != nil {
			return nil, err
		}
	}
	if quantityOverLimit(zone, cmd.Place.Quantity) > 0 {
		// The copy may predate a raised limit: refuse only on the read model's
		// current row (a rare path, worth its query).
		ctx, cancel := s.queryCtx(c)
		current, ferr := s.zones.fresh(ctx, cmd.ZoneID)
		cancel()
		if ferr != nil {
			return nil, readError(ferr, notFound(string(topics.ReasonZoneNotFound), "zone not found in this event"))
		}
		zone = current
		if limit := quantityOverLimit(zone, cmd.Place.Quantity); limit > 0 {
			return nil, newError(KindUnprocessable, string(topics.ReasonQuantityOverLimit),
				fmt.Sprintf("quantity is over the limit of %d per hold", limit))
		}
	}
	return cmd, nil
}

// quantityOverLimit is the zone's limit per hold when quantity is over it, else 0.
// The processor checks this too; checking here keeps hopeless requests off Kafka.
// A zone's hold_quantity_max of 0 sets no limit of its own; zoneCapacityMax still
// bounds every hold.
func quantityOverLimit(zone Zone, quantity int64) int64 {
	limit := int64(zoneCapacityMax)
	if zone.HoldQuantityMax > 0 {
		limit = min(limit, zone.HoldQuantityMax)
	}
	if quantity > limit {
		return limit
	}
	return 0
}

// holdBody checks the fields of a hold and builds its command.
func (s *server) holdBody(b *placeHoldBody) (*topics.Command, *Error) {
	eventID, err := requiredID(b.EventID, "event_id")
	if err != nil {
		return nil, err
	}
	zoneID, err := requiredID(b.ZoneID, "zone_id")
	if err != nil {
		return nil, err
	}
	if b.Quantity == nil {
		return nil, missing("quantity")
	}
	if *b.Quantity <= 0 {
		return nil, invalid("invalid_quantity", "quantity must be at least 1")
	}
	if b.IdempotencyKey == nil {
		return nil, missing("idempotency_key")
	}
	if err := checkText(*b.IdempotencyKey, "idempotency_key", idempotencyKeyBytesMax); err != nil {
		return nil, err
	}
	place := &topics.PlaceHold{Quantity: *b.Quantity}
	if b.CustomerID != nil {
		if err := checkText(*b.CustomerID, "customer_id", customerIDBytesMax); err != nil {
			return nil, err
		}
		place.CustomerID = *b.CustomerID
	}
	cmd := s.newCommand(topics.CmdPlaceHold, eventID, zoneID, *b.IdempotencyKey)
	cmd.Place = place
	return cmd, nil
}

// keyDecisions finds the decision of each idempotency key within the retention
// (see keyLookups); prior[i] is nil for a key not decided.
func (s *server) keyDecisions(c *gin.Context, keys []ZoneKey) ([]*RequestResult, *Error) {
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	prior, ok, err := s.keys.lookup(ctx, keys, s.keysSince())
	if !ok {
		s.metrics.overloaded.WithLabelValues("key_queue").Inc()
		return nil, overloaded()
	}
	if err != nil {
		return nil, readError(err, nil)
	}
	return prior, nil
}

// keysSince is the oldest decision time of an idempotency key still kept: keys
// are promised for topics.IdempotencyRetention.
func (s *server) keysSince() time.Time {
	return s.now().Add(-topics.IdempotencyRetention)
}

// zoneMissing is the error for a zone not found in an event: an unknown event and
// an unknown zone are told apart only on this error path.
func (s *server) zoneMissing(ctx context.Context, eventID uuid.UUID) *Error {
	if _, err := s.deps.Reads.Event(ctx, eventID); err != nil {
		return readError(err, notFound("event_not_found", "event not found"))
	}
	return notFound(string(topics.ReasonZoneNotFound), "zone not found in this event")
}

// zoneOfEvent reads a zone from the API's copy (see zoneCache) and checks that it
// belongs to the event; an unknown
// event and an unknown zone are told apart only on this error path.
func (s *server) zoneOfEvent(c *gin.Context, eventID, zoneID uuid.UUID) (Zone, *Error) {
	// The cache bounds its own query by QueryTimeout: a copy in memory costs no
	// timer (a batch checks up to 1,000 holds).
	zone, err := s.zones.zone(c.Request.Context(), zoneID)
	if err == nil && zone.EventID == eventID {
		return zone, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Zone{}, readError(err, nil)
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	return Zone{}, s.zoneMissing(ctx, eventID)
}

func (s *server) confirmHold(c *gin.Context) {
	s.resolveHold(c, topics.CmdConfirmHold, func(uuid.UUID) (string, *Error) {
		return "", invalid("missing_idempotency_key", "the Idempotency-Key header is required")
	})
}

// releaseKeyPrefix makes the default idempotency key of a release: releasing a hold
// twice is the same request.
const releaseKeyPrefix = "release:"

func (s *server) releaseHold(c *gin.Context) {
	s.resolveHold(c, topics.CmdReleaseHold, func(holdID uuid.UUID) (string, *Error) {
		return releaseKeyPrefix + holdID.String(), nil
	})
}

// resolveHold submits a confirm or release of the hold the route names, routed to
// the hold's zone as the read model knows it. keyMissing gives the idempotency key
// of a request without an Idempotency-Key header, or the error to answer.
func (s *server) resolveHold(c *gin.Context, typ topics.CommandType, keyMissing func(holdID uuid.UUID) (string, *Error)) {
	holdID, bad := parseID(c.Param("id"), "hold id")
	key := c.GetHeader("Idempotency-Key")
	if bad == nil && key == "" {
		key, bad = keyMissing(holdID)
	}
	if bad == nil {
		bad = checkText(key, "Idempotency-Key", idempotencyKeyBytesMax)
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	if !s.admit(c, 1) {
		return
	}
	ctx, cancel := s.queryCtx(c)
	hold, prior, err := s.deps.Reads.HoldAndKey(ctx, holdID, key, s.keysSince())
	cancel()
	if err != nil {
		s.inFlight.give(1)
		s.fail(c, readError(err, notFound(string(topics.ReasonHoldNotFound), "hold not found")))
		return
	}
	cmd := s.newCommand(typ, hold.EventID, hold.ZoneID, key)
	if typ == topics.CmdConfirmHold {
		cmd.Confirm = &topics.ConfirmHold{HoldID: holdID}
	} else {
		cmd.Release = &topics.ReleaseHold{HoldID: holdID}
	}
	s.submitOrReplay(c, cmd, prior)
}

// newCommand builds a command with a new request id (see newRequestID).
func (s *server) newCommand(typ topics.CommandType, eventID, zoneID uuid.UUID, key string) *topics.Command {
	now := s.now()
	id := newRequestID(now, topics.PartitionOf(zoneID, s.cfg.Partitions))
	return &topics.Command{Version: topics.SchemaVersion, Type: typ, RequestID: id,
		EventID: eventID, ZoneID: zoneID, IdempotencyKey: key, SubmittedAt: now.UTC()}
}

// submitOrReplay submits cmd, unless the read model already has the decision of
// its idempotency key (prior): then it answers from that decision and publishes
// nothing. The caller has taken one in-flight command (admit); it is given back
// once published, or at once when nothing is. The processor would answer the same (it keeps a key at least until the
// read model has it), but the read model keeps keys for the whole retention while
// the processor's memory is bounded.
func (s *server) submitOrReplay(c *gin.Context, cmd *topics.Command, prior *RequestResult) {
	switch judgeRetry(cmd, prior) {
	case retryConflicts:
		s.inFlight.give(1)
		s.metrics.keyReplays.WithLabelValues(string(cmd.Type), "conflict").Inc()
		s.fail(c, rejectionError(topics.ReasonIdempotencyConflict, "", nil))
	case retryReplays:
		s.inFlight.give(1)
		s.metrics.keyReplays.WithLabelValues(string(cmd.Type), "replay").Inc()
		s.replay(c, *prior)
	default:
		err := s.publish(c, cmd)
		s.published(c, 1)
		if err != nil {
			s.fail(c, err)
			return
		}
		s.submitted(c, cmd)
	}
}

// A retry's fate, judged from the read model.
const (
	retryPublishes = iota // no usable decision: the processor decides
	retryReplays          // same request: the first answer
	retryConflicts        // same key, another request: idempotency_conflict
)

// judgeRetry compares a command with the decision of its key, as the processor's
// fingerprint does: the command type, and the payload (a hold's quantity and
// customer, a confirm's or release's hold). A rejection names no hold and its
// event does not carry the payload, so a rejected key answers its rejection
// whatever the retry's payload; either way nothing is created.
func judgeRetry(cmd *topics.Command, prior *RequestResult) int {
	switch {
	case prior == nil:
		return retryPublishes
	case prior.Type != cmd.Type:
		return retryConflicts
	case prior.Status != RequestSucceeded:
		return retryReplays
	}
	switch cmd.Type {
	case topics.CmdPlaceHold:
		if prior.Hold == nil {
			return retryPublishes // the hold's row is missing: let the processor answer
		}
		if prior.Hold.Quantity != cmd.Place.Quantity || prior.Hold.CustomerID != cmd.Place.CustomerID {
			return retryConflicts
		}
	case topics.CmdConfirmHold:
		if prior.HoldID != cmd.Confirm.HoldID {
			return retryConflicts
		}
	case topics.CmdReleaseHold:
		if prior.HoldID != cmd.Release.HoldID {
			return retryConflicts
		}
	default:
		return retryPublishes
	}
	return retryReplays
}

// replay answers a retry with the first decision of its key, as the processor's
// replay would: with `Prefer: wait` the decided answer itself (201 with the hold,
// 200 with a confirm's order, or the rejection), naming the original request;
// without it, 202 pointing at the original request, whose GET /requests/{id}
// shows the result.
func (s *server) replay(c *gin.Context, r RequestResult) {
	r.Replayed = true
	if _, asked := preferWait(c.Request.Header); asked {
		o := decide(&r)
		c.JSON(o.code, waitedBody(&r, o))
		return
	}
	s.accepted(c, "/requests/"+r.ID.String(), pendingJSON{RequestID: r.ID, Status: r.Status})
}

// submit publishes one command and answers 202, or, when the client prefers to wait
// and the result comes in time, the result itself.
func (s *server) submit(c *gin.Context, cmd *topics.Command) {
	if err := s.publish(c, cmd); err != nil {
		s.fail(c, err)
		return
	}
	s.submitted(c, cmd)
}

// submitted answers a published command: 202, or its result when the client
// prefers to wait and it comes in time.
func (s *server) submitted(c *gin.Context, cmd *topics.Command) {
	if results, ok := s.awaitResults(c, cmd.RequestID); ok {
		o := decide(&results[0])
		c.JSON(o.code, waitedBody(&results[0], o))
		return
	}
	s.accepted(c, "/requests/"+cmd.RequestID.String(), pendingJSON{RequestID: cmd.RequestID, Status: RequestPending})
}

// publish sends cmd. A client hanging up does not cancel it midway: the command is
// either sent or failed within PublishTimeout.
func (s *server) publish(c *gin.Context, cmd *topics.Command) *Error {
	return s.publishAll(c, []*topics.Command{cmd})[0]
}

// awaitResults waits for the results of ids under one deadline when the client asked
// with `Prefer: wait=N`; ok is true when all were decided in time.
//
// Convention: Preference-Applied: wait=N (N the granted wait in seconds, capped at
// Config.WaitMax, rounded up) is sent whenever the server waited, whether the result
// came (201/200/4xx) or the wait ran out (202). It is absent when the server did not
// wait: no usable preference, or WaitersMax submits already waiting.
func (s *server) awaitResults(c *gin.Context, ids ...uuid.UUID) ([]RequestResult, bool) {
	d, asked := preferWait(c.Request.Header)
	if !asked {
		return nil, false
	}
	d = min(d, s.cfg.WaitMax)
	deadline := time.Now().Add(d)
	results := make([]RequestResult, 0, len(ids))
	for i, id := range ids {
		r, decided, full := s.waiters.wait(c.Request.Context(), id, deadline)
		if full && i == 0 {
			return nil, false
		}
		if !decided {
			c.Header("Preference-Applied", preferenceApplied(d))
			return nil, false
		}
		results = append(results, r)
	}
	c.Header("Preference-Applied", preferenceApplied(d))
	return results, true
}

func (s *server) accepted(c *gin.Context, location string, body any) {
	c.Header("Location", location)
	c.Header("Retry-After", "1")
	c.JSON(http.StatusAccepted, body)
}
