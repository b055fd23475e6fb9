package api

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Outcomes of a Prefer: wait submit, as counted in ticket_api_waits_total.
const (
	waitDecided  = "decided"
	waitTimeout  = "timeout"
	waitCanceled = "canceled"
	waitFull     = "full"
)

// preferWait reads `Prefer: wait=N` (RFC 7240; N in seconds) from the headers. A
// missing, malformed or zero wait is no wait: RFC 7240 asks servers to ignore
// preferences they cannot use.
func preferWait(h http.Header) (time.Duration, bool) {
	for _, line := range h.Values("Prefer") {
		for pref := range strings.SplitSeq(line, ",") {
			token, _, _ := strings.Cut(pref, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(token), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "wait") {
				continue
			}
			n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(value), `"`), 10, 64)
			if err != nil || n <= 0 {
				return 0, false
			}
			if n > math.MaxInt32 {
				n = math.MaxInt32
			}
			return time.Duration(n) * time.Second, true
		}
	}
	return 0, false
}

// preferenceApplied is the Preference-Applied value for a wait of d: whole seconds,
// rounded up.
func preferenceApplied(d time.Duration) string {
	return "wait=" + strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}

// waiters lets submits wait for their request's result without each one polling the
// read model: one background poller queries the results of every request waited on
// in a single query, every pollInterval, and hands each result to its waiters. The
// poller runs only while someone waits, so an idle API sends no queries.
type waiters struct {
	reads        ReadModel
	pollInterval time.Duration
	queryTimeout time.Duration
	waitersMax   int
	metrics      *metrics
	log          *slog.Logger

	mu      sync.Mutex
	byID    map[uuid.UUID][]chan RequestResult
	count   int
	polling bool
}

func newWaiters(reads ReadModel, cfg Config, m *metrics) *waiters {
	return &waiters{reads: reads, pollInterval: cfg.WaitPollInterval, queryTimeout: cfg.QueryTimeout,
		waitersMax: cfg.WaitersMax, metrics: m, log: cfg.Logger,
		byID: make(map[uuid.UUID][]chan RequestResult)}
}

// wait waits until the result of request id is decided, the deadline passes or ctx
// ends. full is true when WaitersMax submits already wait, and then it did not wait.
func (w *waiters) wait(ctx context.Context, id uuid.UUID, deadline time.Time) (r RequestResult, decided, full bool) {
	ch, ok := w.register(id)
	if !ok {
		w.metrics.waitOutcomes.WithLabelValues(waitFull).Inc()
		return RequestResult{}, false, true
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r = <-ch:
		w.metrics.waitOutcomes.WithLabelValues(waitDecided).Inc()
		return r, true, false
	case <-timer.C:
		w.metrics.waitOutcomes.WithLabelValues(waitTimeout).Inc()
	case <-ctx.Done():
		w.metrics.waitOutcomes.WithLabelValues(waitCanceled).Inc()
	}
	if r, ok := w.unregister(id, ch); ok {
		// The result arrived while we gave up: use it rather than lose it.
		return r, true, false
	}
	return RequestResult{}, false, false
}

// waitAll waits for the results of all ids under one deadline, every id waited on
// from the start: results[i] is ids[i]'s, nil if it was not decided in time. full
// is true when there was not room for them all under WaitersMax, and then it did
// not wait.
func (w *waiters) waitAll(ctx context.Context, ids []uuid.UUID, deadline time.Time) (results []*RequestResult, full bool) {
	chans := make([]chan RequestResult, len(ids))
	for i, id := range ids {
		ch, ok := w.register(id)
		if !ok {
			for j := range i {
				w.unregister(ids[j], chans[j])
			}
			w.metrics.waitOutcomes.WithLabelValues(waitFull).Add(float64(len(ids)))
			return nil, true
		}
		chans[i] = ch
	}
	results = make([]*RequestResult, len(ids))
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	gaveUp := ""
	for i, ch := range chans {
		if gaveUp == "" {
			select {
			case r := <-ch:
				results[i] = &r
				w.metrics.waitOutcomes.WithLabelValues(waitDecided).Inc()
				continue
			case <-timer.C:
				gaveUp = waitTimeout
			case <-ctx.Done():
				gaveUp = waitCanceled
			}
		}
		if r, ok := w.unregister(ids[i], ch); ok {
			results[i] = &r
			w.metrics.waitOutcomes.WithLabelValues(waitDecided).Inc()
			continue
		}
		w.metrics.waitOutcomes.WithLabelValues(gaveUp).Inc()
	}
	return results, false
}

func (w *waiters) register(id uuid.UUID) (chan RequestResult, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.count >= w.waitersMax {
		return nil, false
	}
	ch := make(chan RequestResult, 1) // delivery never blocks the poller
	w.byID[id] = append(w.byID[id], ch)
	w.count++
	w.metrics.waiters.Inc()
	if !w.polling {
		w.polling = true
		go w.poll()
	}
	return ch, true
}

// unregister removes ch from the waiters of id; if the poller delivered to ch first,
// it returns that result.
func (w *waiters) unregister(id uuid.UUID, ch chan RequestResult) (RequestResult, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chans := w.byID[id]
	for i, c := range chans {
		if c == ch {
			chans = append(chans[:i], chans[i+1:]...)
			if len(chans) == 0 {
				delete(w.byID, id)
			} else {
				w.byID[id] = chans
			}
			w.count--
			w.metrics.waiters.Dec()
			return RequestResult{}, false
		}
	}
	r, ok := <-ch // delivered: the buffered result is there
	return r, ok
}

// poll is the shared poller's loop; it ends when nobody waits.
func (w *waiters) poll() {
	for {
		time.Sleep(w.pollInterval)
		ids := w.snapshot()
		if ids == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.queryTimeout)
		results, err := w.reads.RequestResults(ctx, ids)
		cancel()
		w.metrics.waitPolls.Inc()
		if err != nil {
			// Waiters time out and answer 202; the client polls GET /requests.
			w.metrics.waitPollErrors.Inc()
			w.log.Warn("api: polling request results", "waited", len(ids), "err", err)
			continue
		}
		w.deliver(results)
	}
}

// snapshot returns the ids waited on, or nil, and then the poller stops, when none.
func (w *waiters) snapshot() []uuid.UUID {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.byID) == 0 {
		w.polling = false
		return nil
	}
	ids := make([]uuid.UUID, 0, len(w.byID))
	for id := range w.byID {
		ids = append(ids, id)
	}
	return ids
}

func (w *waiters) deliver(results []RequestResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range results {
		chans := w.byID[r.ID]
		for _, ch := range chans {
			ch <- r
		}
		delete(w.byID, r.ID)
		w.count -= len(chans)
		w.metrics.waiters.Sub(float64(len(chans)))
	}
}
