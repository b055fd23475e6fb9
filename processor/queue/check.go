package queue

import (
	"errors"
	"fmt"
)

// Check verifies the state's invariants and returns the first violation: tests call
// it after every step; a violation is a bug, not an operating condition.
func (s *State) Check() error {
	if len(s.entries) > s.cfg.EntriesMax || len(s.rooms) > s.cfg.RoomsMax || len(s.order) != len(s.rooms) {
		return errors.New("queue: bounds or room order broken")
	}
	for i, e := range s.live.items {
		if e.heapIdx != i || e.status != statusAdmitted || s.entries[e.id] != e {
			return fmt.Errorf("queue: live admission %s out of place", e.id)
		}
	}
	entries, live := map[*room]int{}, map[*room]int64{}
	for _, e := range s.entries {
		entries[e.room]++
		if e.status == statusAdmitted {
			live[e.room] += e.remaining
		}
		if e.remaining < 0 || e.remaining > e.allowance {
			return fmt.Errorf("queue: entry %s has %d of %d tickets left", e.id, e.remaining, e.allowance)
		}
	}
	for _, r := range s.order {
		if err := s.checkRoom(r, entries[r], live[r]); err != nil {
			return err
		}
	}
	return nil
}

func (s *State) checkRoom(r *room, entries int, unspent int64) error {
	if r.entryCount != entries || r.unspent != unspent {
		return fmt.Errorf("queue: room %s counts %d entries and %d unspent, holds %d and %d", r.event, r.entryCount, r.unspent, entries, unspent)
	}
	if r.started && len(r.pre) != 0 || !r.started && len(r.line) != 0 {
		return fmt.Errorf("queue: room %s has a pre-queue and a line", r.event)
	}
	for i, e := range r.line[r.head:] {
		if e.status != statusWaiting || e.position != r.through+int64(i)+1 {
			return fmt.Errorf("queue: room %s: line entry %d (%s, position %d) out of order", r.event, i, e.id, e.position)
		}
	}
	if r.started && r.nextPos != r.through+int64(len(r.line)-r.head)+1 {
		return fmt.Errorf("queue: room %s: next position %d, admitted through %d with %d waiting", r.event, r.nextPos, r.through, len(r.line)-r.head)
	}
	for c, b := range r.buyers {
		if b.spent < 0 || b.entry == nil && b.spent == 0 {
			return fmt.Errorf("queue: room %s: buyer %q kept with nothing", r.event, c)
		}
		if b.entry != nil && (b.entry.customer != c || b.entry.status == statusExpired) {
			return fmt.Errorf("queue: room %s: buyer %q linked to %s", r.event, c, b.entry.id)
		}
	}
	return nil
}
