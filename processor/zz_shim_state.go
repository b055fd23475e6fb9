package processor

import (
	"sync"
	"time"
)

// Placeholders for the State methods of the changelog work; removed when it lands.
// shimConsumed is not persisted: a restored state reports no consumed offset.

var shimConsumed sync.Map

func (s *State) SetConsumed(next int64) { shimConsumed.Store(s, next) }

func (s *State) Consumed() (int64, bool) {
	n, ok := shimConsumed.Load(s)
	if !ok {
		return 0, false
	}
	return n.(int64), true
}

func (s *State) SetSunkThrough(time.Time) {}
