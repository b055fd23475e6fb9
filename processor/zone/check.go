package zone

import (
	"errors"
	"fmt"
)

// Check verifies the invariants of the whole state, in time linear in its size: for
// tests, and after a rebuild. Per zone, available + held + sold == capacity with all
// three >= 0, held is the sum of the zone's active holds and the customer counts are
// the sums of their holds and orders; indexes agree with the maps; bounds hold.
func (s *State) Check() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	held := make(map[*zone]int64, len(s.zones))
	activeCust := make(map[*zone]map[string]int64)
	active, resolved := 0, 0
	for h := range s.holds.all() {
		id := h.id
		switch {
		case s.hold(id) != h:
			fail("hold %s not found by its id", id)
		case h.zone == nil || s.zones[h.zoneID] != h.zone:
			fail("hold %s: zone %s not linked", id, h.zoneID)
			continue
		case h.qty < 1:
			fail("hold %s: quantity %d", id, h.qty)
		}
		if h.status != statusActive {
			resolved++
			if h.queue != nil {
				fail("resolved hold %s still queued", id)
			}
			continue
		}
		active++
		held[h.zone] += h.qty
		if h.expiresAt <= s.clock {
			fail("active hold %s expires at %d, clock %d: not expired", id, h.expiresAt, s.clock)
		}
		if h.queue == nil || s.queues[h.queue.ttl] != h.queue {
			fail("active hold %s not in its expiry queue", id)
		}
		if h.customer != "" {
			if activeCust[h.zone] == nil {
				activeCust[h.zone] = make(map[string]int64)
			}
			activeCust[h.zone][h.customer] += h.qty
		}
	}
	if active != s.active || resolved != s.resolvedFIFO.len() {
		fail("counted %d active, %d resolved holds; state says %d, %d", active, resolved, s.active, s.resolvedFIFO.len())
	}
	for id, z := range s.zones {
		if z.id != id {
			fail("zone %s stored under %s", z.id, id)
		}
		if z.capacity < 0 || z.held < 0 || z.sold < 0 || z.available() < 0 {
			fail("zone %s: capacity %d, held %d, sold %d, available %d", id, z.capacity, z.held, z.sold, z.available())
		}
		if z.held != held[z] {
			fail("zone %s: held %d, active holds sum to %d", id, z.held, held[z])
		}
		var ordered int64
		for c, ct := range z.customers {
			ordered += ct.ordered
			if ct.active != activeCust[z][c] || ct.active < 0 || ct.ordered < 0 || ct.active+ct.ordered == 0 {
				fail("zone %s customer %q: %+v, active holds sum to %d", id, c, ct, activeCust[z][c])
			}
		}
		if ordered > z.sold || ordered != z.ordered {
			fail("zone %s: customers ordered %d tickets (counted %d), sold %d", id, ordered, z.ordered, z.sold)
		}
		for c, n := range activeCust[z] {
			if z.customers[c].active != n {
				fail("zone %s customer %q: active holds %d not counted", id, c, n)
			}
		}
	}
	s.checkQueues(fail)
	s.checkBounds(fail)
	return errors.Join(errs...)
}

func (s *State) checkQueues(fail func(string, ...any)) {
	live, queued := 0, 0
	for ttl, q := range s.queues {
		if q.ttl != ttl || q.index >= len(s.heap) || s.heap[q.index] != q || q.ring.len() == 0 {
			fail("expiry queue %v misplaced", ttl)
			continue
		}
		n := 0
		var last *expiryEntry
		for i := 0; i < q.ring.len(); i++ {
			e := q.ring.at(i)
			// Extension queues (ttl < 0, payment.go) are in extension order, not placement order.
			if last != nil && (e.expiresAt < last.expiresAt || (ttl >= 0 && e.seq <= last.seq)) {
				fail("expiry queue %v out of order at %d", ttl, i)
			}
			last = e
			if !e.stale() {
				n++
			}
		}
		if n != q.live {
			fail("expiry queue %v: %d live entries, counted %d", ttl, n, q.live)
		}
		live += n
		queued++
	}
	if live != s.active || queued != len(s.heap) {
		fail("expiry queues hold %d live holds in %d queues; %d active, heap of %d", live, queued, s.active, len(s.heap))
	}
	for i := 1; i < len(s.heap); i++ {
		if s.heap[i].less(s.heap[(i-1)/2]) {
			fail("expiry heap out of order at %d", i)
		}
	}
	for i := 0; i < s.keyFIFO.len(); i++ {
		k := *s.keyFIFO.at(i)
		if s.key(k.id) != k {
			fail("key %q queued but not remembered", k.id.key)
		}
	}
	if s.keyFIFO.len() != s.keys.len() {
		fail("%d keys queued, %d remembered", s.keyFIFO.len(), s.keys.len())
	}
	for i := 0; i < s.resolvedFIFO.len(); i++ {
		h := *s.resolvedFIFO.at(i)
		if s.hold(h.id) != h || h.status == statusActive {
			fail("resolved hold %s queued but not remembered", h.id)
		}
	}
}

func (s *State) checkBounds(fail func(string, ...any)) {
	if len(s.zones) > s.cfg.ZonesMax {
		fail("%d zones, ZonesMax %d", len(s.zones), s.cfg.ZonesMax)
	}
	if s.resolvedFIFO.len() > s.cfg.ResolvedHoldsMax {
		fail("%d resolved holds, ResolvedHoldsMax %d", s.resolvedFIFO.len(), s.cfg.ResolvedHoldsMax)
	}
	if s.keys.len() > max(s.cfg.KeysMax, s.keysRebuilt) {
		fail("%d keys, KeysMax %d, rebuilt %d", s.keys.len(), s.cfg.KeysMax, s.keysRebuilt)
	}
}
