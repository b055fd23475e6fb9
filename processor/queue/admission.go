package queue

import (
	"bytes"
	"container/heap"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// limit is a room's admission limiter: at most n admissions in any window of w
// nanoseconds of the partition clock, where n = max(1, floor(rate)) and w = n/rate
// seconds. For a whole rate R that is at most R admissions in any second, with no
// burst beyond it; a clock that jumps admits at most n at once.
func limit(rate float64) (n int, w int64) {
	n = max(1, int(math.Floor(rate)))
	return n, int64(float64(n) / rate * float64(time.Second))
}

// admitRate is the room's limiter rate: the configured rate, or RateMax when
// automatic.
func admitRate(r *room) float64 {
	if r.cfg.RatePerSecond > 0 {
		return r.cfg.RatePerSecond
	}
	return r.cfg.RateMax
}

// available is the tickets left over the room's zones as last reported; known is
// false while a zone has not reported yet.
func available(r *room) (n int64, known bool) {
	known = true
	for _, z := range r.cfg.Zones {
		st, ok := r.stock[z]
		if !ok {
			known = false
			continue
		}
		n += st.available
	}
	return n, known
}

// admit admits the head of the line while the room's rules allow, and returns the
// clock time at which it may admit again (MaxInt64: not until something changes).
func (s *State) admit(dst []topics.Outcome, r *room) ([]topics.Outcome, int64) {
	if !r.started || !r.configured || r.soldOut || len(r.cfg.Zones) > 0 && r.stockEmpty() {
		return dst, math.MaxInt64
	}
	n, w := limit(admitRate(r))
	auto := r.cfg.RatePerSecond == 0
	for r.head < len(r.line) {
		if len(r.window) >= n {
			if next := r.window[len(r.window)-n] + w; next > s.clock {
				return dst, next
			}
		}
		if auto {
			avail, known := available(r)
			if !known || r.unspent >= avail {
				return dst, math.MaxInt64
			}
		}
		dst = s.admitOne(dst, r)
	}
	return dst, math.MaxInt64
}

// stockEmpty reports whether every zone reported and none has a ticket available:
// admitting then would only send buyers to find nothing (holds may still expire).
func (r *room) stockEmpty() bool {
	avail, known := available(r)
	return known && avail == 0
}

func (s *State) admitOne(dst []topics.Outcome, r *room) []topics.Outcome {
	e := r.line[r.head]
	r.line[r.head] = nil
	r.head++
	if r.head >= len(r.line) {
		r.line, r.head = r.line[:0], 0
	} else if r.head >= 1024 && r.head*2 >= len(r.line) {
		r.line = append(r.line[:0], r.line[r.head:]...)
		r.head = 0
	}
	n, _ := limit(admitRate(r))
	if len(r.window) >= 2*n {
		r.window = append(r.window[:0], r.window[len(r.window)-n+1:]...)
	}
	r.window = append(r.window, s.clock)
	e.status = statusAdmitted
	e.admitted = s.clock
	e.expires = s.clock + r.cfg.ShopSeconds*int64(time.Second)
	e.allowance, e.remaining = r.cfg.Allowance, r.cfg.Allowance
	r.unspent += e.remaining
	r.through = max(r.through, e.position)
	heap.Push(&s.live, e)
	s.markEntry(e)
	s.markRoom(r)
	o := s.outcome(topics.OutQueueAdmitted, r.event)
	o.Entry = entryView(e)
	o.Admission = &topics.QueueAdmission{AdmittedAt: unixTime(e.admitted), ExpiresAt: unixTime(e.expires), Allowance: e.allowance}
	o.Progress = s.progress(r)
	return append(dst, o)
}

// expire ends the admissions due and forgets expired entries past retention.
func (s *State) expire(dst []topics.Outcome) []topics.Outcome {
	for s.live.Len() > 0 && s.live.items[0].expires <= s.clock {
		e := heap.Pop(&s.live).(*entry)
		r := e.room
		e.status = statusExpired
		r.unspent -= e.remaining
		e.keys = nil
		if b := r.buyers[e.customer]; b != nil && b.entry == e {
			b.entry = nil
			s.dropBuyerIfIdle(r, e.customer, b)
		}
		s.expired = append(s.expired, e)
		s.markEntry(e)
		s.markRoom(r)
		o := s.outcome(topics.OutQueueAdmissionExpired, r.event)
		o.Entry = entryView(e)
		dst = append(dst, o)
	}
	horizon := s.clock - int64(s.cfg.ExpiredRetention)
	for s.expHead < len(s.expired) && s.expired[s.expHead].expires <= horizon {
		e := s.expired[s.expHead]
		s.expired[s.expHead] = nil
		s.expHead++
		delete(s.entries, e.id)
		e.room.entryCount--
		s.changes.forgotten = append(s.changes.forgotten, e.id)
	}
	if s.expHead >= 1024 && s.expHead*2 >= len(s.expired) {
		s.expired = append(s.expired[:0], s.expired[s.expHead:]...)
		s.expHead = 0
	}
	return dst
}

func (s *State) dropBuyerIfIdle(r *room, customer string, b *buyer) {
	if b.entry == nil && b.spent == 0 {
		delete(r.buyers, customer)
	}
	s.markBuyer(r, customer, b)
}

// debit checks a hold's admission and forwards the hold to its zone, debited; or
// rejects it.
func (s *State) debit(dst []topics.Outcome, fwd []topics.Command, cmd *topics.Command) ([]topics.Outcome, []topics.Command) {
	p := cmd.Place
	e := s.entries[p.Admission.QueueID]
	switch {
	case cmd.ZoneID == uuid.Nil:
		return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "zone_id is required")), fwd
	case p.Quantity < topics.HoldQuantityMin:
		return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "quantity must be >= 1")), fwd
	case e == nil || e.room.event != cmd.EventID || e.status == statusWaiting:
		return append(dst, s.reject(cmd, topics.ReasonAdmissionNotFound, "no admission with this queue id")), fwd
	case e.status == statusExpired:
		return append(dst, s.reject(cmd, topics.ReasonAdmissionExpired, "the admission expired")), fwd
	case p.CustomerID != e.customer:
		return append(dst, s.reject(cmd, topics.ReasonAdmissionCustomerMismatch, "the admission is another buyer's")), fwd
	}
	r := e.room
	if len(r.cfg.Zones) > 0 && !slices.Contains(r.cfg.Zones, cmd.ZoneID) {
		return append(dst, s.reject(cmd, topics.ReasonInvalidCommand, "the zone is not one of the waiting room's")), fwd
	}
	fc := *cmd
	place := *p
	fc.Place = &place
	if cmd.IdempotencyKey != "" && slices.Contains(e.keys, debitKey{zone: cmd.ZoneID, key: cmd.IdempotencyKey}) {
		// A retry: the zone answers it from its own memory of the key. It goes without
		// the admission, so that its answer credits nothing either.
		place.Admission = nil
		return dst, append(fwd, fc)
	}
	b := r.buyers[e.customer]
	spent := int64(0)
	if b != nil && e.customer != "" {
		spent = b.spent
	}
	switch {
	case p.Quantity > e.remaining:
		return append(dst, s.reject(cmd, topics.ReasonAdmissionAllowanceExceeded, "quantity over the admission's remaining allowance")), fwd
	case e.customer != "" && spent+p.Quantity > r.cfg.CustomerLimit:
		return append(dst, s.reject(cmd, topics.ReasonCustomerLimitExceeded, "quantity over the buyer's limit for the event")), fwd
	case cmd.IdempotencyKey != "" && len(e.keys) >= s.cfg.KeysPerAdmissionMax:
		return append(dst, s.reject(cmd, topics.ReasonAdmissionAllowanceExceeded, "too many holds for one admission")), fwd
	}
	e.remaining -= p.Quantity
	r.unspent -= p.Quantity
	if cmd.IdempotencyKey != "" {
		e.keys = append(e.keys, debitKey{zone: cmd.ZoneID, key: cmd.IdempotencyKey})
	}
	if e.customer != "" {
		b.spent += p.Quantity
		s.markBuyer(r, e.customer, b)
	}
	s.markEntry(e)
	s.markRoom(r)
	place.Admission = &topics.AdmissionRef{QueueID: e.id, Debited: true}
	return dst, append(fwd, fc)
}

// credit gives a hold's tickets back to its admission (while it lives) and to its
// buyer's limit.
func (s *State) credit(cmd *topics.Command) {
	c := cmd.Credit
	e := s.entries[c.QueueID]
	if e == nil || e.room.event != cmd.EventID || c.Quantity <= 0 {
		return
	}
	r := e.room
	if e.status == statusAdmitted {
		back := min(c.Quantity, e.allowance-e.remaining)
		e.remaining += back
		r.unspent += back
		s.markEntry(e)
		s.markRoom(r)
	}
	if b := r.buyers[e.customer]; b != nil && e.customer != "" {
		b.spent = max(0, b.spent-c.Quantity)
		s.dropBuyerIfIdle(r, e.customer, b)
	}
}

// stock records a zone's stock and announces sold out or resumed.
func (s *State) stock(dst []topics.Outcome, cmd *topics.Command) []topics.Outcome {
	r := s.rooms[cmd.EventID]
	if r == nil {
		// The zone may report before the room is configured: keep its stock.
		if len(s.rooms) >= s.cfg.RoomsMax {
			return dst
		}
		r = newRoom(cmd.EventID)
		s.insertRoom(r)
	}
	st := cmd.Stock
	if _, ok := r.stock[st.ZoneID]; !ok && len(r.stock) >= topics.QueueZonesMax && !slices.Contains(r.cfg.Zones, st.ZoneID) {
		return dst
	}
	r.stock[st.ZoneID] = zoneStock{available: max(st.Available, 0), held: max(st.Held, 0)}
	s.markRoom(r)
	return s.checkSoldOut(dst, r)
}

// trimStock forgets the stock of zones no longer in the room's configuration.
func (s *State) trimStock(r *room) {
	for z := range r.stock {
		if !slices.Contains(r.cfg.Zones, z) {
			delete(r.stock, z)
		}
	}
}

// checkSoldOut announces a change of the room's sold-out status: sold out when every
// zone reported nothing available and nothing held.
func (s *State) checkSoldOut(dst []topics.Outcome, r *room) []topics.Outcome {
	sold := r.configured && len(r.cfg.Zones) > 0
	for _, z := range r.cfg.Zones {
		st, ok := r.stock[z]
		if !ok || st.available > 0 || st.held > 0 {
			sold = false
			break
		}
	}
	if sold == r.soldOut {
		return dst
	}
	r.soldOut = sold
	s.markRoom(r)
	t := topics.OutQueueResumed
	if sold {
		t = topics.OutQueueSoldOut
	}
	o := s.outcome(t, r.event)
	o.Progress = s.progress(r)
	return append(dst, o)
}

// admissionHeap orders live admissions by expiry, then event id, then position.
type admissionHeap struct{ items []*entry }

func (h *admissionHeap) Len() int { return len(h.items) }
func (h *admissionHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.expires != b.expires {
		return a.expires < b.expires
	}
	if c := bytes.Compare(a.room.event[:], b.room.event[:]); c != 0 {
		return c < 0
	}
	return a.position < b.position
}
func (h *admissionHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx, h.items[j].heapIdx = i, j
}
func (h *admissionHeap) Push(x any) {
	e := x.(*entry)
	e.heapIdx = len(h.items)
	h.items = append(h.items, e)
}
func (h *admissionHeap) Pop() any {
	n := len(h.items) - 1
	e := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	e.heapIdx = -1
	return e
}
