package zone

import (
	"encoding/binary"
	"hash/maphash"
	"iter"

	"github.com/google/uuid"
)

// table is an open-addressing hash index of *T by a 64-bit hash, with linear probing
// and backward-shift deletion. Go's built-in map keeps tombstones on delete, and
// under the FIFO churn of holds and keys (insert the new, delete the oldest) its
// probe sequences grow to microseconds; backward-shift deletion leaves none, so a
// lookup stays a probe or two at any age.
//
// Hashes come from hash/maphash with a per-table random seed, so clients cannot
// choose colliding idempotency keys. The seed changes only the layout, never what
// the state machine decides.
type table[T any] struct {
	slots  []tableSlot[T]
	mask   uint64
	n      int
	seed   maphash.Seed
	k0, k1 uint64 // seed for uuid halves
}

type tableSlot[T any] struct {
	hash uint64
	val  *T // nil = empty
}

// tableSizeMin is a table's initial slot count; it doubles at 3/4 full.
const tableSizeMin = 1024

func newTable[T any]() table[T] {
	seed := maphash.MakeSeed()
	return table[T]{slots: make([]tableSlot[T], tableSizeMin), mask: tableSizeMin - 1, seed: seed,
		k0: maphash.String(seed, "k0"), k1: maphash.String(seed, "k1")}
}

func (t *table[T]) len() int { return t.n }

// hashUUID mixes the two halves of a uuid with the seed (murmur3's finalizer): a
// few nanoseconds, where maphash.Comparable takes tens.
func (t *table[T]) hashUUID(id uuid.UUID) uint64 {
	return fmix64(binary.LittleEndian.Uint64(id[:8])^t.k0) ^ fmix64(binary.LittleEndian.Uint64(id[8:])^t.k1)
}

func (t *table[T]) hashKey(id keyID) uint64 {
	return t.hashUUID(id.zone) ^ maphash.String(t.seed, id.key)
}

func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// get returns the value with hash h for which eq is true, or nil.
func (t *table[T]) get(h uint64, eq func(*T) bool) *T {
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.val == nil {
			return nil
		}
		if s.hash == h && eq(s.val) {
			return s.val
		}
	}
}

// put adds v, which must not be in the table yet.
func (t *table[T]) put(h uint64, v *T) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	t.insert(h, v)
	t.n++
}

func (t *table[T]) insert(h uint64, v *T) {
	i := h & t.mask
	for t.slots[i].val != nil {
		i = (i + 1) & t.mask
	}
	t.slots[i] = tableSlot[T]{hash: h, val: v}
}

func (t *table[T]) grow() {
	old := t.slots
	t.slots = make([]tableSlot[T], 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.val != nil {
			t.insert(s.hash, s.val)
		}
	}
}

// remove deletes v, stored under hash h; it panics if v is not there.
func (t *table[T]) remove(h uint64, v *T) {
	i := h & t.mask
	for t.slots[i].val != v {
		if t.slots[i].val == nil {
			panic("zone: removing a value not in the table")
		}
		i = (i + 1) & t.mask
	}
	// Shift back the entries after the hole that may not stay behind it.
	for j := (i + 1) & t.mask; t.slots[j].val != nil; j = (j + 1) & t.mask {
		home := t.slots[j].hash & t.mask
		// The entry at j may fill the hole at i unless its home lies cyclically in (i, j].
		if (j-home)&t.mask >= (j-i)&t.mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = tableSlot[T]{}
	t.n--
}

// all yields every value, in no particular order.
func (t *table[T]) all() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for _, s := range t.slots {
			if s.val != nil && !yield(s.val) {
				return
			}
		}
	}
}

// Holds and keys by id, through the tables.

func (s *State) hold(id uuid.UUID) *hold {
	return s.holds.get(s.holds.hashUUID(id), func(h *hold) bool { return h.id == id })
}

func (s *State) addHold(h *hold) {
	h.hash = s.holds.hashUUID(h.id)
	s.holds.put(h.hash, h)
}

func (s *State) dropHold(h *hold) { s.holds.remove(h.hash, h) }

func (s *State) key(id keyID) *keyEntry {
	return s.keys.get(s.keys.hashKey(id), func(k *keyEntry) bool { return k.id == id })
}

func (s *State) addKey(k *keyEntry) {
	k.hash = s.keys.hashKey(k.id)
	s.keys.put(k.hash, k)
}

func (s *State) dropKey(k *keyEntry) { s.keys.remove(k.hash, k) }
