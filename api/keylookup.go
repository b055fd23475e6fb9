package api

import (
	"context"
	"sync"
	"time"
)

// keyLookupQueueMax bounds the idempotency keys waiting for a lookup; a submit
// that would go over it answers 503 overloaded.
const keyLookupQueueMax = 50_000

// keyLookups checks the idempotency keys of submits against the read model in
// shared queries: every key waiting when a worker starts a query goes into it (up to
// BatchHoldsMax), so under load one round trip to Postgres serves many submits, and
// at most KeyLookupWorkers queries run at once however many submits arrive. A quiet
// API sends a submit's query at once, as before.
//
// The read model is where keys are kept for the whole retention
// (topics.IdempotencyRetention); the processor's memory of them is bounded.
type keyLookups struct {
	reads   ReadModel
	workers int
	timeout time.Duration
	metrics *metrics

	mu      sync.Mutex
	queue   []*keyLookup
	running int
}

// keyLookup is one key to check, and, once done is closed, its answer.
type keyLookup struct {
	key   ZoneKey
	since time.Time
	prior *RequestResult
	err   error
	done  chan struct{}
}

func newKeyLookups(reads ReadModel, cfg Config, m *metrics) *keyLookups {
	return &keyLookups{reads: reads, workers: cfg.KeyLookupWorkers, timeout: cfg.QueryTimeout, metrics: m}
}

// lookup finds the decision of each key after since; prior[i] is nil when keys[i]
// has none. ok is false, and nothing was looked up, when the queue is full.
func (k *keyLookups) lookup(ctx context.Context, keys []ZoneKey, since time.Time) (prior []*RequestResult, ok bool, err error) {
	ls := make([]*keyLookup, len(keys))
	for i, key := range keys {
		ls[i] = &keyLookup{key: key, since: since, done: make(chan struct{})}
	}
	if !k.enqueue(ls) {
		return nil, false, nil
	}
	start := time.Now()
	defer func() { k.metrics.keyWaitSeconds.Observe(time.Since(start).Seconds()) }()
	prior = make([]*RequestResult, len(keys))
	for i, l := range ls {
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
		if l.err != nil {
			return nil, true, l.err
		}
		prior[i] = l.prior
	}
	return prior, true, nil
}

func (k *keyLookups) enqueue(ls []*keyLookup) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.queue)+len(ls) > keyLookupQueueMax {
		return false
	}
	k.queue = append(k.queue, ls...)
	if k.running < k.workers {
		k.running++
		go k.work()
	}
	return true
}

// work runs queries until the queue is empty.
func (k *keyLookups) work() {
	for {
		k.mu.Lock()
		n := min(len(k.queue), BatchHoldsMax)
		if n == 0 {
			k.running--
			k.queue = nil // let the backing array go
			k.mu.Unlock()
			return
		}
		batch := make([]*keyLookup, n)
		copy(batch, k.queue)
		k.queue = k.queue[n:]
		k.mu.Unlock()
		k.run(batch)
	}
}

// run checks a batch in one query. Every lookup of a batch shares the oldest since:
// a decision older than a lookup's own since is dropped for it.
func (k *keyLookups) run(batch []*keyLookup) {
	keys := make([]ZoneKey, len(batch))
	since := batch[0].since
	for i, l := range batch {
		keys[i] = l.key
		if l.since.Before(since) {
			since = l.since
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	start := time.Now()
	prior, err := k.reads.KeyDecisions(ctx, keys, since)
	cancel()
	k.metrics.keyQuerySeconds.Observe(time.Since(start).Seconds())
	k.metrics.keyQueryKeys.Observe(float64(len(keys)))
	for i, l := range batch {
		switch {
		case err != nil:
			l.err = err
		case prior[i] != nil && prior[i].DecidedAt.After(l.since):
			l.prior = prior[i]
		}
		close(l.done)
	}
}
