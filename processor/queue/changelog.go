package queue

import (
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
)

// The queue's records share the partition's changelog with the zones' (processor/
// zone), under key kinds of their own (upper case and 'q'; IsRecord tells them
// apart). Every value starts with changelogVersion; numbers are varints, times
// fixed 8-byte little-endian unix ns, strings uvarint-length-prefixed. Keys:
//
//	'q'                          the queue clock
//	'Q' eventID                  a room: config, start, counters, limiter, stock
//	'E' queueID                  an entry
//	'B' eventID customerID       a buyer's tickets debited and not credited
//
// The lines, the pre-queues, the live admissions and the buyers' live entries are
// derived, and rebuilt by FinishRebuild.
const changelogVersion = 1

const (
	recClock = 'q'
	recRoom  = 'Q'
	recEntry = 'E'
	recBuyer = 'B'
)

// IsRecord reports whether a changelog key is one of the queue's.
func IsRecord(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	switch key[0] {
	case recClock, recRoom, recEntry, recBuyer:
		return true
	}
	return false
}

type buyerRef struct {
	room     *room
	customer string
}

// changes lists what changed since the last drain; entries may repeat.
type changes struct {
	rooms     []*room
	entries   []uuid.UUID
	buyers    []buyerRef
	forgotten []uuid.UUID
	clock     int64 // the 'q' record last emitted
	key, val  []byte
}

// DrainChanges emits the records of what changed since the last drain (value nil =
// tombstone) and forgets the changes. key and value are reused after emit returns.
func (s *State) DrainChanges(emit func(key, value []byte)) {
	c := &s.changes
	for i, r := range c.rooms {
		r.dirty = false
		c.key = append(append(c.key[:0], recRoom), r.event[:]...)
		c.val = encodeRoom(c.val[:0], r)
		emit(c.key, c.val)
		c.rooms[i] = nil
	}
	for _, id := range c.entries {
		e := s.entries[id]
		if e == nil || !e.dirty {
			continue // forgotten (below) or emitted already
		}
		e.dirty = false
		c.key = append(append(c.key[:0], recEntry), id[:]...)
		c.val = encodeEntry(c.val[:0], e)
		emit(c.key, c.val)
	}
	for _, id := range c.forgotten {
		if s.entries[id] != nil {
			continue
		}
		c.key = append(append(c.key[:0], recEntry), id[:]...)
		emit(c.key, nil)
	}
	for i, ref := range c.buyers {
		c.buyers[i] = buyerRef{}
		b := ref.room.buyers[ref.customer]
		if b != nil && !b.dirty {
			continue
		}
		c.key = append(append(append(c.key[:0], recBuyer), ref.room.event[:]...), ref.customer...)
		if b == nil || b.spent == 0 {
			if b != nil {
				b.dirty = false
			}
			emit(c.key, nil) // a buyer with nothing spent is rebuilt from its entry
			continue
		}
		b.dirty = false
		c.val = binary.AppendVarint(append(c.val[:0], changelogVersion), b.spent)
		emit(c.key, c.val)
	}
	if s.clock != c.clock && s.applied {
		c.clock = s.clock
		c.key = append(c.key[:0], recClock)
		c.val = binary.LittleEndian.AppendUint64(append(c.val[:0], changelogVersion), uint64(s.clock))
		emit(c.key, c.val)
	}
	c.rooms, c.entries, c.buyers, c.forgotten = c.rooms[:0], c.entries[:0], c.buyers[:0], c.forgotten[:0]
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte { return appendNs(b, t.UnixNano()) }

func appendNs(b []byte, ns int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(ns)) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func encodeRoom(b []byte, r *room) []byte {
	b = append(b, changelogVersion)
	b = appendBool(b, r.configured)
	q := &r.cfg
	b = appendBool(b, q.Enabled)
	b = appendTime(b, q.OpensAt)
	b = appendTime(b, q.StartsAt)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(q.RatePerSecond))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(q.RateMax))
	for _, v := range [...]int64{q.ShopSeconds, q.Allowance, q.CustomerLimit} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(q.Zones)))
	for _, z := range q.Zones {
		b = append(b, z[:]...)
	}
	b = appendBool(b, r.started)
	b = append(b, r.seed[:]...)
	for _, v := range [...]int64{r.preSize, r.nextPos, r.through, int64(r.joinSeq)} {
		b = binary.AppendVarint(b, v)
	}
	b = appendBool(b, r.soldOut)
	// The limiter needs only the last n admission times.
	n, _ := limit(admitRate(r))
	w := r.window[max(0, len(r.window)-n):]
	b = binary.AppendUvarint(b, uint64(len(w)))
	for _, t := range w {
		b = appendNs(b, t)
	}
	zones := make([]uuid.UUID, 0, len(r.stock))
	for z := range r.stock {
		zones = append(zones, z)
	}
	slices.SortFunc(zones, func(a, b uuid.UUID) int { return compareUUID(a, b) })
	b = binary.AppendUvarint(b, uint64(len(zones)))
	for _, z := range zones {
		st := r.stock[z]
		b = append(b, z[:]...)
		b = binary.AppendVarint(b, st.available)
		b = binary.AppendVarint(b, st.held)
	}
	return b
}

func encodeEntry(b []byte, e *entry) []byte {
	b = append(b, changelogVersion)
	b = append(b, e.room.event[:]...)
	b = appendString(b, e.customer)
	b = binary.AppendUvarint(b, e.seq)
	b = appendNs(b, e.joinedAt)
	b = appendBool(b, e.pre)
	b = binary.AppendVarint(b, e.position)
	b = append(b, byte(e.status))
	if e.status == statusWaiting {
		return b
	}
	b = appendNs(b, e.admitted)
	b = appendNs(b, e.expires)
	b = binary.AppendVarint(b, e.allowance)
	b = binary.AppendVarint(b, e.remaining)
	b = binary.AppendUvarint(b, uint64(len(e.keys)))
	for _, k := range e.keys {
		b = append(b, k.zone[:]...)
		b = appendString(b, k.key)
	}
	return b
}

func compareUUID(a, b uuid.UUID) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}
