package pow

import (
	"sync"
	"time"
)

// seenSet remembers the salts of challenges spent and not yet expired, at most
// max of them. Entries are kept in the order they were spent; with one TTL per
// Issuer that is nearly expiry order, so expired entries are dropped from the
// front. When the set is full of unexpired entries, the oldest is dropped (and
// counted): its challenge could then be spent once more on this instance. The
// bound trades that for memory (about 64 bytes an entry).
type seenSet struct {
	max int

	mu      sync.Mutex
	at      map[[saltBytes]byte]time.Time
	order   [][saltBytes]byte // FIFO; head is the oldest
	head    int
	evicted uint64
}

func newSeenSet(max int) *seenSet {
	return &seenSet{max: max, at: make(map[[saltBytes]byte]time.Time)}
}

// spend records salt until expires; false when it was already spent.
func (s *seenSet) spend(salt [saltBytes]byte, expires, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(now)
	if _, ok := s.at[salt]; ok {
		return false
	}
	for len(s.at) >= s.max {
		s.dropOldest()
		s.evicted++
	}
	s.at[salt] = expires
	s.order = append(s.order, salt)
	return true
}

// prune drops expired entries from the front.
func (s *seenSet) prune(now time.Time) {
	for s.head < len(s.order) {
		if exp, ok := s.at[s.order[s.head]]; ok && exp.After(now) {
			break
		}
		s.dropOldest()
	}
}

func (s *seenSet) dropOldest() {
	delete(s.at, s.order[s.head])
	s.head++
	// Compact when the dropped prefix is half the slice, so memory follows the set.
	if s.head > len(s.order)/2 {
		s.order = append(s.order[:0:0], s.order[s.head:]...)
		s.head = 0
	}
}

func (s *seenSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.at)
}
