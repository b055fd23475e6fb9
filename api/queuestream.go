package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// streamHeartbeat is how often a stream with nothing new sends a comment, so that
// proxies keep it open.
const streamHeartbeat = 15 * time.Second

// streamRetryMillis is the reconnection delay a stream asks of EventSource
// clients when it ends (after Config.WaitMax).
const streamRetryMillis = 1000

// getQueue is GET /queue/{id}: the buyer's place now; with `Prefer: wait=N`, once
// it changes (status or places ahead) or after N seconds; with `Accept:
// text/event-stream`, every change as a server-sent event for up to WaitMax.
func (s *server) getQueue(c *gin.Context) {
	if s.room == nil {
		s.fail(c, roomUnavailable())
		return
	}
	id, bad := parseID(c.Param("id"), "queue id")
	if bad != nil {
		s.fail(c, bad)
		return
	}
	v, err := s.queueView(c, id)
	if errors.Is(err, ErrNotFound) {
		s.queueMissing(c, id)
		return
	}
	if err != nil {
		s.fail(c, readError(err, nil))
		return
	}
	if wantsStream(c.Request.Header) {
		s.streamQueue(c, v)
		return
	}
	j := viewJSON(&v, s.now())
	if d, ok := preferWait(c.Request.Header); ok && !j.terminal() {
		d = min(d, s.cfg.WaitMax)
		v = s.awaitChange(c, v, j.state(), time.Now().Add(d))
		c.Header("Preference-Applied", preferenceApplied(d))
	}
	out, bad := s.answerJSON(&v)
	if bad != nil {
		s.fail(c, bad)
		return
	}
	c.JSON(http.StatusOK, out)
}

// queueMissing answers for a queue id without an entry: the join's rejection,
// pending while its partition has not gone past it, or 404.
func (s *server) queueMissing(c *gin.Context, id uuid.UUID) {
	ctx, cancel := s.queryCtx(c)
	defer cancel()
	results, err := s.deps.Reads.RequestResults(ctx, []uuid.UUID{id})
	if err != nil {
		s.fail(c, readError(err, nil))
		return
	}
	for i := range results {
		if results[i].ID == id && results[i].Status == RequestRejected {
			s.fail(c, rejectionError(results[i].Reason, results[i].Message, nil))
			return
		}
	}
	pending, err := s.mayBePending(ctx, id)
	if err != nil {
		s.fail(c, readError(err, nil))
		return
	}
	if !pending {
		s.fail(c, notFound("queue_entry_not_found", "no such place in a waiting room"))
		return
	}
	s.roomMetrics.answers.WithLabelValues(queuePending).Inc()
	c.Header("Retry-After", "1")
	c.JSON(http.StatusOK, queueJSON{QueueID: id, Status: queuePending})
}

// awaitChange waits until the entry's answer differs from was, the deadline
// passes or the client leaves, and returns the newest view. Without room among
// the watchers it returns v at once.
func (s *server) awaitChange(c *gin.Context, v QueueView, was queueState, deadline time.Time) QueueView {
	ch, stop, ok := s.queueWatch.watch(v.Entry.QueueID)
	if !ok {
		return v
	}
	defer stop()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case nv := <-ch:
			v = nv
			if j := viewJSON(&v, s.now()); j.state() != was {
				return v
			}
		case <-timer.C:
			return v
		case <-c.Request.Context().Done():
			return v
		}
	}
}

// wantsStream reports whether the client asked for server-sent events.
func wantsStream(h http.Header) bool {
	for _, line := range h.Values("Accept") {
		for part := range strings.SplitSeq(line, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// streamQueue sends the buyer's place as server-sent events (event "queue", data
// the JSON of GET /queue/{id}) whenever it changes, until it can change no more
// or WaitMax passes; EventSource clients reconnect by themselves.
func (s *server) streamQueue(c *gin.Context, v QueueView) {
	ch, stop, ok := s.queueWatch.watch(v.Entry.QueueID)
	if !ok {
		s.fail(c, overloaded())
		return
	}
	defer stop()
	c.Header("Content-Type", "text/event-stream")
	c.Header("Cache-Control", "no-cache")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	fmt.Fprintf(c.Writer, "retry: %d\n\n", streamRetryMillis)
	end := time.NewTimer(s.cfg.WaitMax)
	defer end.Stop()
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	var sent *queueState
	for n := 1; ; {
		j := viewJSON(&v, s.now())
		if sent == nil || j.state() != *sent {
			out, bad := s.answerJSON(&v)
			if bad != nil {
				return // the stream is open: nothing better to answer than its end
			}
			st := out.state()
			sent = &st
			raw, _ := json.Marshal(out)
			fmt.Fprintf(c.Writer, "id: %d\nevent: queue\ndata: %s\n\n", n, raw)
			n++
			c.Writer.Flush()
			if out.terminal() {
				return
			}
		}
		select {
		case v = <-ch:
		case <-beat.C:
			fmt.Fprint(c.Writer, ": keep-alive\n\n")
			c.Writer.Flush()
		case <-end.C:
			return
		case <-c.Request.Context().Done():
			return
		}
	}
}
