package queue

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	b := d.b[:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) byte() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) bool() bool { return d.byte() == 1 }

func (d *decoder) uuid() (u uuid.UUID) {
	if b := d.take(16); b != nil {
		u = uuid.UUID(b)
	}
	return u
}

func (d *decoder) ns() int64 {
	if b := d.take(8); b != nil {
		return int64(binary.LittleEndian.Uint64(b))
	}
	return 0
}

func (d *decoder) float() float64 { return math.Float64frombits(uint64(d.ns())) }

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length that must not exceed limit.
func (d *decoder) count(limit int) int {
	n := d.uvarint()
	if n > uint64(limit) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(n)
}

func (d *decoder) string() string { return string(d.take(d.uvarint())) }

func (d *decoder) end() bool { return !d.bad && len(d.b) == 0 }

var errCorrupt = errors.New("corrupt record")

var errRebuildDone = errors.New("queue: Rebuild after FinishRebuild, Apply or Advance")

// Rebuild applies one of the queue's changelog records (IsRecord): the newest per key
// wins, a nil value deletes. Call it for every such record in offset order, before
// any Apply or Advance, then FinishRebuild.
func (s *State) Rebuild(key, value []byte) error {
	if s.applied {
		return errRebuildDone
	}
	s.rebuilt = true
	if !IsRecord(key) {
		return fmt.Errorf("queue: rebuild: key %q is not the queue's", key)
	}
	if value != nil && (len(value) == 0 || value[0] != changelogVersion) {
		return fmt.Errorf("queue: rebuild: key %q: unknown record version", key)
	}
	var err error
	rest := key[1:]
	switch key[0] {
	case recClock:
		err = s.rebuildClock(rest, value)
	case recRoom:
		err = s.rebuildRoom(rest, value)
	case recEntry:
		err = s.rebuildEntry(rest, value)
	case recBuyer:
		err = s.rebuildBuyer(rest, value)
	}
	if err != nil {
		return fmt.Errorf("queue: rebuild: key %q: %w", key, err)
	}
	return nil
}

func (s *State) rebuildClock(rest, value []byte) error {
	if len(rest) != 0 || value == nil {
		return errCorrupt
	}
	d := decoder{b: value[1:]}
	c := d.ns()
	if !d.end() {
		return errCorrupt
	}
	s.clock, s.changes.clock = c, c
	return nil
}

// roomOf returns the room of event, created empty if need be (entries may be read
// before their room's record).
func (s *State) roomOf(event uuid.UUID) *room {
	r := s.rooms[event]
	if r == nil {
		r = newRoom(event)
		s.insertRoom(r)
	}
	return r
}

func (s *State) rebuildRoom(rest, value []byte) error {
	if len(rest) != 16 || value == nil {
		return errCorrupt
	}
	d := decoder{b: value[1:]}
	var v room
	v.configured = d.bool()
	q := &v.cfg
	q.Enabled = d.bool()
	q.OpensAt, q.StartsAt = unixTime(d.ns()), unixTime(d.ns())
	q.RatePerSecond, q.RateMax = d.float(), d.float()
	q.ShopSeconds, q.Allowance, q.CustomerLimit = d.varint(), d.varint(), d.varint()
	q.Zones = make([]uuid.UUID, d.count(topics.QueueZonesMax))
	for i := range q.Zones {
		q.Zones[i] = d.uuid()
	}
	v.started = d.bool()
	copy(v.seed[:], d.take(32))
	v.preSize, v.nextPos, v.through = d.varint(), d.varint(), d.varint()
	v.joinSeq = uint64(d.varint())
	v.soldOut = d.bool()
	v.window = make([]int64, d.count(int(topics.QueueRateMax)))
	for i := range v.window {
		v.window[i] = d.ns()
	}
	stock := map[uuid.UUID]zoneStock{}
	for range d.count(topics.QueueZonesMax) {
		z := d.uuid()
		stock[z] = zoneStock{available: d.varint(), held: d.varint()}
	}
	if !d.end() || v.configured && (q.RateMax <= 0 || q.Allowance < 1 || q.ShopSeconds < 1) {
		return errCorrupt
	}
	r := s.roomOf(uuid.UUID(rest))
	r.configured, r.cfg, r.started, r.seed = v.configured, v.cfg, v.started, v.seed
	r.preSize, r.nextPos, r.through, r.joinSeq, r.soldOut = v.preSize, v.nextPos, v.through, v.joinSeq, v.soldOut
	r.window, r.stock = v.window, stock
	return nil
}

func (s *State) rebuildEntry(rest, value []byte) error {
	if len(rest) != 16 {
		return errCorrupt
	}
	id := uuid.UUID(rest)
	if value == nil {
		if e := s.entries[id]; e != nil {
			delete(s.entries, id)
			e.room.entryCount--
		}
		return nil
	}
	d := decoder{b: value[1:]}
	event := d.uuid()
	v := entry{id: id, customer: d.string(), seq: d.uvarint(), joinedAt: d.ns(), pre: d.bool(), position: d.varint(),
		status: status(d.byte()), heapIdx: -1}
	if v.status != statusWaiting {
		v.admitted, v.expires = d.ns(), d.ns()
		v.allowance, v.remaining = d.varint(), d.varint()
		keys := d.count(math.MaxInt32)
		for range keys {
			if d.bad {
				break
			}
			v.keys = append(v.keys, debitKey{zone: d.uuid(), key: d.string()})
		}
	}
	if !d.end() || v.status < statusWaiting || v.status > statusExpired || v.remaining < 0 || v.remaining > v.allowance {
		return errCorrupt
	}
	r := s.roomOf(event)
	e := s.entries[id]
	if e == nil {
		e = &entry{}
		s.entries[id] = e
		r.entryCount++
	} else if e.room != r {
		return errCorrupt
	}
	*e = v
	e.room = r
	return nil
}

func (s *State) rebuildBuyer(rest, value []byte) error {
	if len(rest) < 16 {
		return errCorrupt
	}
	r := s.roomOf(uuid.UUID(rest[:16]))
	customer := string(rest[16:])
	if value == nil {
		if b := r.buyers[customer]; b != nil {
			b.spent = 0
		}
		return nil
	}
	d := decoder{b: value[1:]}
	spent := d.varint()
	if !d.end() || spent < 0 {
		return errCorrupt
	}
	b := r.buyers[customer]
	if b == nil {
		b = &buyer{}
		r.buyers[customer] = b
	}
	b.spent = spent
	return nil
}

// FinishRebuild derives what the records do not hold: each room's pre-queue (join
// order) or line (position order), the live admissions, the expired entries'
// retention order, the buyers' live entries and the unspent allowances.
func (s *State) FinishRebuild() error {
	if s.applied {
		return errRebuildDone
	}
	s.applied = true
	ids := make([]uuid.UUID, 0, len(s.entries))
	for id := range s.entries {
		ids = append(ids, id)
	}
	// A deterministic order: every derived list is sorted below anyway.
	slices.SortFunc(ids, compareUUID)
	for _, id := range ids {
		e := s.entries[id]
		r := e.room
		switch e.status {
		case statusWaiting:
			if r.started {
				r.line = append(r.line, e)
			} else {
				r.pre = append(r.pre, e)
			}
		case statusAdmitted:
			heap.Push(&s.live, e)
			r.unspent += e.remaining
		case statusExpired:
			s.expired = append(s.expired, e)
		}
		if e.customer != "" && e.status != statusExpired {
			b := r.buyers[e.customer]
			if b == nil {
				b = &buyer{}
				r.buyers[e.customer] = b
			}
			if b.entry != nil {
				return fmt.Errorf("queue: rebuild: customer %q has two live entries", e.customer)
			}
			b.entry = e
		}
	}
	for _, r := range s.order {
		slices.SortFunc(r.pre, func(a, b *entry) int { return cmp.Compare(a.seq, b.seq) })
		slices.SortFunc(r.line, func(a, b *entry) int { return cmp.Compare(a.position, b.position) })
		for customer, b := range r.buyers {
			if b.entry == nil && b.spent == 0 {
				delete(r.buyers, customer)
			}
		}
	}
	slices.SortFunc(s.expired, func(a, b *entry) int {
		if c := cmp.Compare(a.expires, b.expires); c != 0 {
			return c
		}
		if c := compareUUID(a.room.event, b.room.event); c != 0 {
			return c
		}
		return cmp.Compare(a.position, b.position)
	})
	s.touch()
	return nil
}
