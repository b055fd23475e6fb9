package zone

import "time"

// Holds expire in the order of their expires_at, ties broken by placement order.
// Because expires_at = placement clock + TTL and the clock never goes backwards, the
// holds placed with one TTL expire in placement order: one FIFO queue per distinct
// TTL is sorted without any work. A small heap over the queues' heads merges them.
// A zone whose TTL shrinks simply starts using another queue. There are at most as
// many queues as distinct TTLs in use (bounded by topics.HoldTTLMin..HoldTTLMax in seconds).
//
// Confirmed and released holds stay in their queue (checked by seq when they reach
// its head); a queue is compacted when such stale entries outnumber its live ones.

// compactSlack is how many stale entries a queue may carry before compaction is
// considered, so small queues are never compacted.
const compactSlack = 1024

type expiryEntry struct {
	h         *hold
	seq       uint64 // h.seq when pushed: h was reused if it differs
	expiresAt int64
}

// stale reports whether the entry no longer names an active hold.
// An entry left behind by a payment extension (payment.go) is stale too.
func (e *expiryEntry) stale() bool {
	return e.h.seq != e.seq || e.h.status != statusActive || e.h.expiresAt != e.expiresAt
}

type expiryQueue struct {
	ttl   time.Duration
	ring  ring[expiryEntry]
	live  int // active holds in ring
	index int // position in the heap
}

// less orders queues by their heads: (expires_at, placement seq).
func (q *expiryQueue) less(o *expiryQueue) bool {
	a, b := q.ring.front(), o.ring.front()
	if a.expiresAt != b.expiresAt {
		return a.expiresAt < b.expiresAt
	}
	return a.seq < b.seq
}

// expiryHeap is a min-heap of non-empty queues by head.
type expiryHeap []*expiryQueue

func (h *expiryHeap) push(q *expiryQueue) {
	q.index = len(*h)
	*h = append(*h, q)
	h.up(q.index)
}

func (h *expiryHeap) remove(i int) {
	s := *h
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		s[i].index = i
	}
	s[last] = nil
	*h = s[:last]
	if i != last {
		h.fix(i)
	}
}

func (h expiryHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h expiryHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			break
		}
		h.swap(i, m)
		i = m
	}
	return i > start
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

// enqueueExpiry puts an active hold in the queue of its TTL.
func (s *State) enqueueExpiry(h *hold) {
	ttl := h.queueKey()
	q := s.queues[ttl]
	if q == nil {
		q = &expiryQueue{ttl: ttl}
		s.queues[ttl] = q
		q.ring.push(expiryEntry{h: h, seq: h.seq, expiresAt: h.expiresAt})
		s.heap.push(q)
	} else {
		q.ring.push(expiryEntry{h: h, seq: h.seq, expiresAt: h.expiresAt})
	}
	q.live++
	h.queue = q
	if q.ring.len() > 2*q.live+compactSlack {
		q.ring.filter(func(e *expiryEntry) bool { return !e.stale() })
		s.heap.fix(q.index)
	}
}

// popExpiry drops the head of the top queue, and the queue itself once empty.
func (s *State) popExpiry(q *expiryQueue) {
	q.ring.pop()
	if q.ring.len() == 0 {
		if q.live != 0 {
			panic("zone: empty expiry queue with live holds")
		}
		s.heap.remove(q.index)
		delete(s.queues, q.ttl)
		return
	}
	s.heap.fix(q.index)
}

// topExpiry returns the entry of the active hold that expires first, dropping the
// stale entries in front of it.
func (s *State) topExpiry() *expiryEntry {
	for len(s.heap) > 0 {
		q := s.heap[0]
		e := q.ring.front()
		if !e.stale() {
			return e
		}
		s.popExpiry(q)
	}
	return nil
}
