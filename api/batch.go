package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// placeHoldsBody is POST /holds/batch.
type placeHoldsBody struct {
	Holds []placeHoldBody `json:"holds"`
}

// Statuses of a batch item beyond the RequestStatus values (pending, succeeded,
// rejected): invalid items were not queued, failed ones could not be.
const (
	itemInvalid = "invalid"
	itemFailed  = "failed"
)

// batchItemJSON is one hold's result in a batch, at its index in the request.
type batchItemJSON struct {
	Index     int          `json:"index"`
	Status    string       `json:"status"`
	RequestID *uuid.UUID   `json:"request_id,omitempty"`
	Hold      *holdJSON    `json:"hold,omitempty"`
	Error     *errorDetail `json:"error,omitempty"`
	Replayed  bool         `json:"replayed,omitempty"`
}

type batchJSON struct {
	Results []batchItemJSON `json:"results"`
}

// placeHolds is POST /holds/batch: up to BatchHoldsMax holds, each judged on its own
// as POST /holds judges one, with its own idempotency key and result, in order. The
// keys of the whole batch are looked up in one query and the commands published
// together. A hold that fails its checks is "invalid" and the others go on; only a
// malformed body, an overload or an unreachable read model answer for the whole
// batch, and then nothing is queued.
func (s *server) placeHolds(c *gin.Context) {
	var b placeHoldsBody
	if err := decodeJSONLimit(c, &b, s.cfg.BatchBodyBytesMax); err != nil {
		s.fail(c, err)
		return
	}
	if len(b.Holds) == 0 || len(b.Holds) > BatchHoldsMax {
		s.fail(c, invalid("invalid_batch", "holds must list 1 to %d holds", BatchHoldsMax))
		return
	}
	s.metrics.batchHolds.Observe(float64(len(b.Holds)))
	items := make([]batchItemJSON, len(b.Holds))
	var cmds []*topics.Command
	var at []int // at[j] is the index of cmds[j]
	for i := range b.Holds {
		items[i].Index = i
		cmd, err := s.holdCommand(c, &b.Holds[i])
		if err != nil {
			if err.Kind == KindUnavailable {
				s.fail(c, err)
				return
			}
			items[i].Status, items[i].Error = itemInvalid, errorDetailOf(err)
			continue
		}
		cmds, at = append(cmds, cmd), append(at, i)
	}
	if len(cmds) > 0 && !s.submitBatch(c, cmds, at, items) {
		return
	}
	code := http.StatusOK
	for i := range items {
		if items[i].Status == string(RequestPending) {
			code = http.StatusAccepted
			break
		}
	}
	if code == http.StatusAccepted {
		c.Header("Retry-After", "1")
	}
	c.JSON(code, batchJSON{Results: items})
}

// submitBatch looks up the keys of cmds, answers retries from their first
// decision, publishes the rest, and waits for them when asked: items[at[j]] is
// cmds[j]'s result. false when it answered an error for the whole batch.
func (s *server) submitBatch(c *gin.Context, cmds []*topics.Command, at []int, items []batchItemJSON) bool {
	if !s.admit(c, len(cmds)) {
		return false
	}
	keys := make([]ZoneKey, len(cmds))
	for j, cmd := range cmds {
		keys[j] = ZoneKey{Zone: cmd.ZoneID, Key: cmd.IdempotencyKey}
	}
	prior, err := s.keyDecisions(c, keys)
	if err != nil {
		s.inFlight.give(len(cmds))
		s.fail(c, err)
		return false
	}
	var pub []*topics.Command
	var pubAt []int
	for j, cmd := range cmds {
		item := &items[at[j]]
		switch judgeRetry(cmd, prior[j]) {
		case retryConflicts:
			s.metrics.keyReplays.WithLabelValues(string(cmd.Type), "conflict").Inc()
			item.Status = string(RequestRejected)
			item.Error = errorDetailOf(rejectionError(topics.ReasonIdempotencyConflict, "", nil))
		case retryReplays:
			s.metrics.keyReplays.WithLabelValues(string(cmd.Type), "replay").Inc()
			r := *prior[j]
			r.Replayed = true
			setItemResult(item, &r)
		default:
			pub, pubAt = append(pub, cmd), append(pubAt, at[j])
		}
	}
	s.inFlight.give(len(cmds) - len(pub))
	if len(pub) == 0 {
		return true
	}
	errs := s.publishAll(c, pub)
	s.published(c, len(pub))
	var queued []uuid.UUID
	var queuedAt []int
	for j, cmd := range pub {
		item := &items[pubAt[j]]
		if errs[j] != nil {
			item.Status, item.Error = itemFailed, errorDetailOf(errs[j])
			continue
		}
		id := cmd.RequestID
		item.Status, item.RequestID = string(RequestPending), &id
		queued, queuedAt = append(queued, id), append(queuedAt, pubAt[j])
	}
	if len(queued) == 0 {
		// Nothing could be queued: the whole batch is unavailable, as one hold is.
		s.fail(c, errs[0])
		return false
	}
	if results := s.awaitEach(c, queued); results != nil {
		for j, r := range results {
			if r != nil {
				setItemResult(&items[queuedAt[j]], r)
			}
		}
	}
	return true
}

// setItemResult fills a batch item from its decided request.
func setItemResult(item *batchItemJSON, r *RequestResult) {
	id := r.ID
	o := decide(r)
	item.RequestID, item.Status, item.Replayed = &id, string(r.Status), r.Replayed
	if o.err != nil {
		item.Error = errorDetailOf(o.err)
		return
	}
	item.Hold = o.hold
}

// publishAll publishes cmds together; errs[i] is cmds[i]'s failure. A client
// hanging up does not cancel them midway: each is either sent or failed within
// PublishTimeout.
func (s *server) publishAll(c *gin.Context, cmds []*topics.Command) []*Error {
	for _, cmd := range cmds {
		if err := cmd.Check(); err != nil {
			panic(fmt.Sprintf("api: built an invalid command: %v", err))
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), s.cfg.PublishTimeout)
	defer cancel()
	errs := s.deps.Publisher.PublishAll(ctx, cmds)
	out := make([]*Error, len(cmds))
	for i, err := range errs {
		typ := string(cmds[i].Type)
		if err != nil {
			s.metrics.publishFailures.WithLabelValues(typ).Inc()
			out[i] = unavailable("publish_failed",
				"the request could not be queued; retry it (with the same idempotency key)", err)
			continue
		}
		s.metrics.published.WithLabelValues(typ).Inc()
	}
	return out
}

// awaitEach waits, when the client asked with `Prefer: wait=N`, for the results
// of ids under one deadline: results[i] is ids[i]'s, nil if not decided in time.
// nil when it did not wait (no preference, or not WaitersMax room for them all).
func (s *server) awaitEach(c *gin.Context, ids []uuid.UUID) []*RequestResult {
	d, asked := preferWait(c.Request.Header)
	if !asked {
		return nil
	}
	d = min(d, s.cfg.WaitMax)
	results, full := s.waiters.waitAll(c.Request.Context(), ids, time.Now().Add(d))
	if full {
		return nil
	}
	c.Header("Preference-Applied", preferenceApplied(d))
	return results
}

// lookupRequestsBody is POST /requests/lookup.
type lookupRequestsBody struct {
	RequestIDs []string `json:"request_ids"`
}

type lookupJSON struct {
	Results []requestJSON `json:"results"`
}

// RequestNotFound is what POST /requests/lookup answers for an id GET
// /requests/{id} answers 404 for. Never stored.
const RequestNotFound RequestStatus = "not_found"

// lookupRequests is POST /requests/lookup: the results of up to BatchHoldsMax
// request ids (a batch's), in order, in one query, each as GET /requests/{id}
// shows it; an unknown id is pending or not_found as there.
func (s *server) lookupRequests(c *gin.Context) {
	var b lookupRequestsBody
	if err := decodeJSONLimit(c, &b, s.cfg.BatchBodyBytesMax); err != nil {
		s.fail(c, err)
		return
	}
	if len(b.RequestIDs) == 0 || len(b.RequestIDs) > BatchHoldsMax {
		s.fail(c, invalid("invalid_batch", "request_ids must list 1 to %d ids", BatchHoldsMax))
		return
	}
	ids := make([]uuid.UUID, len(b.RequestIDs))
	for i, raw := range b.RequestIDs {
		id, err := parseID(raw, fmt.Sprintf("request_ids[%d]", i))
		if err != nil {
			s.fail(c, err)
			return
		}
		ids[i] = id
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	results, err := s.deps.Reads.RequestResults(ctx, ids)
	if err != nil {
		s.fail(c, readError(err, nil))
		return
	}
	byID := make(map[uuid.UUID]*RequestResult, len(results))
	for i := range results {
		byID[results[i].ID] = &results[i]
	}
	out := make([]requestJSON, len(ids))
	seen := make(map[int32]time.Time)
	for i, id := range ids {
		if r, ok := byID[id]; ok {
			out[i] = toRequestJSON(r)
			continue
		}
		pending, err := s.mayBePendingSeen(ctx, id, seen)
		if err != nil {
			s.fail(c, readError(err, nil))
			return
		}
		out[i] = requestJSON{RequestID: id, Status: RequestNotFound}
		if pending {
			out[i].Status = RequestPending
		}
	}
	c.JSON(http.StatusOK, lookupJSON{Results: out})
}
