package classic

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"
)

// placeHold is POST /holds: 201 with the hold (also for a retry of its key), or the
// decision's error. `Prefer: wait` changes nothing: every answer is final.
func (s *server) placeHold(c *gin.Context) {
	body, bad := readBody(c, s.cfg.BodyBytesMax)
	var b holdBody
	if bad == nil {
		bad = decodeStrict(body, &b)
	}
	var r holdRequest
	if bad == nil {
		r, bad = b.check()
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	p, err := placeHold(ctx, s.pool, r)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Location", "/holds/"+p.Hold.ID.String())
	c.JSON(http.StatusCreated, toHoldJSON(&p.Hold))
}

type batchBody struct {
	Holds []json.RawMessage `json:"holds"`
}

// placeHolds is POST /holds/batch: each hold in its own transaction, so that one
// failing rolls back no other. The holds of one zone are decided in the batch's
// order, as the pipeline decides a zone's commands in log order; different zones
// proceed side by side, at most Config.BatchConcurrency at once. It answers 200 with
// every item decided. If the database fails for an item, the whole batch answers
// 503: the items already decided stay so, and a retry of the batch with the same
// keys answers them again.
func (s *server) placeHolds(c *gin.Context) {
	body, bad := readBody(c, s.cfg.BatchBodyBytesMax)
	var b batchBody
	if bad == nil {
		bad = decodeStrict(body, &b)
	}
	if bad == nil && (len(b.Holds) == 0 || len(b.Holds) > batchHoldsMax) {
		bad = invalid("invalid_batch", "field \"holds\" must list 1 to %d holds", batchHoldsMax)
	}
	if bad != nil {
		s.fail(c, bad)
		return
	}
	results := make([]batchItemJSON, len(b.Holds))
	requests := make([]holdRequest, len(b.Holds))
	var zones [][]int // the indexes of the valid items of each zone, in order
	zoneOf := map[uuid.UUID]int{}
	for i, raw := range b.Holds {
		results[i].Index = i
		r, bad := checkItem(raw)
		if bad != nil {
			results[i].Status, results[i].Error = statusInvalid, errorDetailOf(bad)
			continue
		}
		requests[i] = r
		z, ok := zoneOf[r.ZoneID]
		if !ok {
			z = len(zones)
			zoneOf[r.ZoneID] = z
			zones = append(zones, nil)
		}
		zones[z] = append(zones[z], i)
	}
	g, ctx := errgroup.WithContext(c.Request.Context())
	g.SetLimit(s.cfg.BatchConcurrency)
	for _, items := range zones {
		g.Go(func() error {
			for _, i := range items {
				if err := s.placeItem(ctx, requests[i], &results[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, batchJSON{Results: results})
}

// checkItem decodes and checks one hold of a batch.
func checkItem(raw json.RawMessage) (holdRequest, *Error) {
	var b holdBody
	if bad := decodeStrict(raw, &b); bad != nil {
		return holdRequest{}, bad
	}
	return b.check()
}

// placeItem decides one valid hold of a batch into item; the error is a failure of
// the database.
func (s *server) placeItem(ctx context.Context, r holdRequest, item *batchItemJSON) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	p, err := placeHold(ctx, s.pool, r)
	if err != nil {
		e := s.typed(err)
		switch e.Kind {
		case KindUnavailable:
			return e
		case KindNotFound, KindUnprocessable:
			// Checks the pipeline's API makes before queueing: not queued, invalid.
			item.Status = statusInvalid
		default:
			item.Status = statusRejected
		}
		item.Error = errorDetailOf(e)
		return nil
	}
	id := p.Hold.RequestID
	item.Status, item.RequestID, item.Hold, item.Replayed = statusSucceeded, &id, toHoldJSON(&p.Hold), p.Replayed
	return nil
}
