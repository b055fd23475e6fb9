package api

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// queueWatch lets long polls and streams of GET /queue/{id} follow their entries
// without each one polling the read model: one background poller reads every
// entry watched in a single query, every interval, and hands each watcher the
// newest view. It runs only while someone watches.
type queueWatch struct {
	reads        QueueReadModel
	interval     time.Duration
	queryTimeout time.Duration
	max          int
	metrics      *roomMetrics
	log          *slog.Logger

	mu      sync.Mutex
	byID    map[uuid.UUID][]chan QueueView
	count   int
	polling bool
}

func newQueueWatch(reads QueueReadModel, interval, queryTimeout time.Duration, watchersMax int, m *roomMetrics, log *slog.Logger) *queueWatch {
	return &queueWatch{reads: reads, interval: interval, queryTimeout: queryTimeout, max: watchersMax,
		metrics: m, log: log, byID: make(map[uuid.UUID][]chan QueueView)}
}

// watch registers a watcher of id: its channel receives the newest view after
// every poll (a view not taken yet is replaced). stop must be called; ok is false
// when WatchersMax watch already.
func (w *queueWatch) watch(id uuid.UUID) (ch <-chan QueueView, stop func(), ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.count >= w.max {
		return nil, nil, false
	}
	c := make(chan QueueView, 1)
	w.byID[id] = append(w.byID[id], c)
	w.count++
	w.metrics.watchers.Inc()
	if !w.polling {
		w.polling = true
		go w.poll()
	}
	return c, func() { w.unwatch(id, c) }, true
}

func (w *queueWatch) unwatch(id uuid.UUID, c chan QueueView) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chans := w.byID[id]
	for i, x := range chans {
		if x == c {
			chans = append(chans[:i], chans[i+1:]...)
			w.count--
			w.metrics.watchers.Dec()
			break
		}
	}
	if len(chans) == 0 {
		delete(w.byID, id)
	} else {
		w.byID[id] = chans
	}
}

// watching is how many watch now.
func (w *queueWatch) watching() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count
}

// poll is the shared poller's loop; it ends when nobody watches.
func (w *queueWatch) poll() {
	for {
		time.Sleep(w.interval)
		ids := w.snapshot()
		if ids == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), w.queryTimeout)
		views, err := w.reads.QueueViews(ctx, ids)
		cancel()
		w.metrics.watchPolls.Inc()
		if err != nil {
			// Watchers keep what they have; their wait runs out as usual.
			w.log.Warn("api: polling queue entries", "watched", len(ids), "err", err)
			continue
		}
		w.deliver(views)
	}
}

func (w *queueWatch) snapshot() []uuid.UUID {
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

func (w *queueWatch) deliver(views []QueueView) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range views {
		for _, c := range w.byID[v.Entry.QueueID] {
			select {
			case <-c: // drop the stale view
			default:
			}
			c <- v
		}
	}
}
