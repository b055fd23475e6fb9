package zone

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) fail() { d.bad, d.b = true, nil }

// take consumes the next n bytes, or fails if fewer are left and returns nil.
func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.fail()
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

func (d *decoder) uuid() (u uuid.UUID) {
	if b := d.take(16); b != nil {
		u = uuid.UUID(b)
	}
	return u
}

func (d *decoder) time() int64 {
	if b := d.take(8); b != nil {
		return int64(binary.LittleEndian.Uint64(b))
	}
	return 0
}

// skip consumes the n bytes a varint took, or fails on n <= 0 (truncated or
// overflowing), and reports whether it did.
func (d *decoder) skip(n int) bool {
	if n <= 0 {
		d.fail()
		return false
	}
	d.b = d.b[n:]
	return true
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if !d.skip(n) {
		return 0
	}
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if !d.skip(n) {
		return 0
	}
	return v
}

func (d *decoder) string() string { return string(d.take(d.uvarint())) }

func (d *decoder) code(n int) int {
	c := int(d.byte())
	if c == 0 || c >= n {
		d.fail()
		return 0 // an index the caller may still use
	}
	return c
}

// end reports whether the record was read completely and correctly.
func (d *decoder) end() bool { return !d.bad && len(d.b) == 0 }

// rebuildState holds what Rebuild read that FinishRebuild links.
type rebuildState struct {
	customers map[keyID]int64 // ordered tickets per (zone, customer)
	// holds in decode order (with duplicates and freed ones, skipped when linking):
	// walking them in memory order is much faster than in hash order.
	holds   []*hold
	strings map[string]string // customer ids, interned
}

var errRebuildDone = errors.New("zone: Rebuild after FinishRebuild or Apply")

// Rebuild applies one changelog record: the newest per key wins, a nil value deletes.
// Call it for every record of the compacted topic in offset order, before any Apply,
// then FinishRebuild.
func (s *State) Rebuild(key, value []byte) error {
	if s.finished {
		return errRebuildDone
	}
	if s.rebuild == nil {
		if s.clock != 0 || len(s.zones) != 0 || s.holds.len() != 0 || s.keys.len() != 0 {
			return errRebuildDone
		}
		s.rebuild = &rebuildState{customers: make(map[keyID]int64), strings: make(map[string]string)}
	}
	if len(key) == 0 {
		return errors.New("zone: rebuild: empty key")
	}
	if value != nil && (len(value) == 0 || value[0] != changelogVersion) {
		return fmt.Errorf("zone: rebuild: key %q: unknown record version", key)
	}
	var err error
	switch rest := key[1:]; key[0] {
	case recClock:
		err = s.rebuildClock(rest, value)
	case recZone:
		err = s.rebuildZone(rest, value)
	case recHold:
		err = s.rebuildHold(rest, value)
	case recKey:
		err = s.rebuildKey(rest, value)
	case recCustomer:
		err = s.rebuildCustomer(rest, value)
	default:
		err = errors.New("unknown record kind")
	}
	if err != nil {
		return fmt.Errorf("zone: rebuild: key %q: %w", key, err)
	}
	return nil
}

var errCorrupt = errors.New("corrupt record")

func (s *State) rebuildClock(rest, value []byte) error {
	if len(rest) != 0 {
		return errCorrupt
	}
	var cr clockRecord
	if value != nil {
		d := decoder{b: value[1:]}
		cr.clock = d.time()
		for _, v := range []*int64{&cr.seq, &cr.keysEvicted, &cr.resolvedEvicted} {
			*v = int64(d.uvarint())
		}
		if len(d.b) > 0 { // written with the consumed offset
			cr.consumed, cr.keysRejected = int64(d.uvarint()), int64(d.uvarint())
		}
		if !d.end() || cr.seq < 0 || cr.keysEvicted < 0 || cr.resolvedEvicted < 0 || cr.consumed < 0 || cr.keysRejected < 0 {
			return errCorrupt
		}
	}
	s.clock, s.seq, s.keysEvictedEarly, s.resolvedEvictedEarly = cr.clock, uint64(cr.seq), cr.keysEvicted, cr.resolvedEvicted
	s.keysRejectedFull = cr.keysRejected
	s.consumed, s.hasConsumed = max(cr.consumed-1, 0), cr.consumed > 0
	s.changes.drained = cr
	return nil
}

func (s *State) rebuildZone(rest, value []byte) error {
	if len(rest) != 16 {
		return errCorrupt
	}
	id := uuid.UUID(rest)
	if value == nil {
		delete(s.zones, id)
		return nil
	}
	d := decoder{b: value[1:]}
	z := &zone{id: id, eventID: d.uuid(), customers: make(map[string]customerTickets)}
	z.capacity, z.rebuiltHeld, z.sold = d.varint(), d.varint(), d.varint()
	z.ttl = durationOf(d.varint())
	z.holdQuantityMax, z.customerLimit = d.varint(), d.varint()
	z.eventName, z.zoneName = d.string(), d.string()
	decodeZoneExtras(&d, z)
	if !d.end() || z.ttl <= 0 || z.holdQuantityMax < 1 || z.customerLimit < 0 ||
		z.capacity < 0 || z.capacity > topics.ZoneCapacityMax || z.rebuiltHeld < 0 || z.sold < 0 {
		return errCorrupt
	}
	s.zones[id] = z
	return nil
}

func (s *State) rebuildHold(rest, value []byte) error {
	if len(rest) != 16 {
		return errCorrupt
	}
	id := uuid.UUID(rest)
	old := s.hold(id)
	if value == nil {
		if old != nil {
			s.dropHold(old)
			s.holdSlab.put(old)
		}
		return nil
	}
	// Decoded aside: a corrupt record leaves the previous version untouched.
	d := decoder{b: value[1:]}
	v := hold{id: id, zoneID: d.uuid(), status: holdStatus(d.byte()), qty: d.varint()}
	v.createdAt, v.expiresAt, v.seq = d.time(), d.time(), d.uvarint()
	v.customer = s.intern(&d)
	if v.status < statusActive || v.status > statusExpired {
		d.fail()
	}
	if v.status != statusActive {
		v.resolvedAt, v.resolveSeq = d.time(), d.uvarint()
	}
	if v.status == statusConfirmed {
		v.orderID = d.uuid()
	}
	decodeHoldExtras(&d, &v)
	if !d.end() {
		return errCorrupt
	}
	if old != nil {
		// A later version of a hold already read (placed in one transaction,
		// resolved in a later one): it stays where the table has it, under its hash.
		v.hash = old.hash
		*old = v
		return nil
	}
	h := s.holdSlab.get()
	*h = v
	s.addHold(h)
	s.rebuild.holds = append(s.rebuild.holds, h)
	return nil
}

// intern reads a string shared by many records (a customer id) once.
func (s *State) intern(d *decoder) string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	b := d.b[:n]
	d.b = d.b[n:]
	if v, ok := s.rebuild.strings[string(b)]; ok {
		return v
	}
	if len(s.rebuild.strings) >= internMax {
		return string(b)
	}
	v := string(b)
	s.rebuild.strings[v] = v
	return v
}

// internMax bounds the strings interned during a rebuild.
const internMax = 1 << 20

func (s *State) rebuildKey(rest, value []byte) error {
	if len(rest) < 16 {
		return errCorrupt
	}
	id := keyID{zone: uuid.UUID(rest[:16]), key: string(rest[16:])}
	old := s.key(id)
	if value == nil {
		if old != nil {
			s.dropKey(old)
			s.keySlab.put(old)
		}
		return nil
	}
	d := decoder{b: value[1:]}
	k := keyEntry{id: id, decidedAt: d.time(), seq: d.uvarint(), requestID: d.uuid()}
	k.outType = outcomeTypeCodes[d.code(len(outcomeTypeCodes))]
	k.holdID, k.orderID = d.uuid(), d.uuid()
	if r := int(d.byte()); r < len(reasonCodes) {
		k.reason = reasonCodes[r]
	} else {
		d.fail()
	}
	k.available = d.varint()
	k.message = d.string()
	fp := &k.fp
	fp.typ = commandTypeCodes[d.code(len(commandTypeCodes))]
	fp.holdID, fp.qty, fp.customer = d.uuid(), d.varint(), d.string()
	if d.byte() == 1 {
		c := &configPrint{set: d.byte(), eventName: d.string(), zoneName: d.string()}
		c.capacity, c.ttlSeconds, c.holdQtyMax, c.customerLim = d.varint(), d.varint(), d.varint(), d.varint()
		fp.cfg = c
	}
	if !d.end() {
		return errCorrupt
	}
	if old == nil {
		old = s.keySlab.get()
		*old = k
		s.addKey(old)
		return nil
	}
	k.hash = old.hash
	*old = k
	return nil
}

func (s *State) rebuildCustomer(rest, value []byte) error {
	if len(rest) < 16 {
		return errCorrupt
	}
	id := keyID{zone: uuid.UUID(rest[:16]), key: string(rest[16:])}
	if value == nil {
		delete(s.rebuild.customers, id)
		return nil
	}
	d := decoder{b: value[1:]}
	n := d.varint()
	if !d.end() || n <= 0 {
		return errCorrupt
	}
	s.rebuild.customers[id] = n
	return nil
}

func durationOf(ns int64) time.Duration { return time.Duration(ns) }

// FinishRebuild links what Rebuild read and rebuilds the derived indexes: zones of
// holds, per-customer counts, expiry queues, retention queues. It checks what it
// can in passing (every hold's zone exists, each zone's held tickets match its active
// holds): an error means the changelog is inconsistent. The full Check is left to
// the caller, since it costs as much again.
func (s *State) FinishRebuild() error {
	r := s.rebuild
	if r == nil {
		if s.finished || s.clock != 0 || len(s.zones) != 0 || s.holds.len() != 0 || s.keys.len() != 0 {
			return errRebuildDone
		}
		r = &rebuildState{}
	}
	s.rebuild, s.finished = nil, true
	for id, n := range r.customers {
		z := s.zones[id.zone]
		if z == nil {
			return fmt.Errorf("zone: rebuild: customer %q of unknown zone %s", id.key, id.zone)
		}
		z.customers[id.key] = customerTickets{ordered: n}
	}
	// Sorting (seq, pointer) pairs keeps the comparisons in cache: sorting the
	// pointers by h.seq would chase a pointer per comparison.
	active := make([]seqRef[hold], 0, s.holds.len())
	var resolved []seqRef[hold]
	for _, h := range r.holds {
		if h.status == 0 || h.zone != nil {
			continue // freed, or met already
		}
		z := s.zones[h.zoneID]
		if z == nil {
			return fmt.Errorf("zone: rebuild: hold %s of unknown zone %s", h.id, h.zoneID)
		}
		h.zone = z
		if err := s.rebuiltHoldErr(h); err != nil {
			return fmt.Errorf("zone: rebuild: hold %s: %w", h.id, err)
		}
		if h.status != statusActive {
			resolved = append(resolved, seqRef[hold]{h.resolveSeq, h})
			continue
		}
		active = append(active, seqRef[hold]{h.seq, h})
		z.held += h.qty
		if h.customer != "" {
			ct := z.customers[h.customer]
			ct.active += h.qty
			z.customers[h.customer] = ct
		}
	}
	if len(active)+len(resolved) != s.holds.len() {
		panic("zone: rebuilt holds not all linked")
	}
	for _, z := range s.zones {
		var ordered int64
		for _, ct := range z.customers {
			ordered += ct.ordered
		}
		z.ordered = ordered
		if ordered > z.sold {
			return fmt.Errorf("zone: rebuild: zone %s: customers ordered %d tickets, sold %d", z.id, ordered, z.sold)
		}
		if z.held != z.rebuiltHeld {
			return fmt.Errorf("zone: rebuild: zone %s: active holds sum to %d tickets, zone record says %d",
				z.id, z.held, z.rebuiltHeld)
		}
		if z.capacity < z.held+z.sold || z.held < 0 || z.sold < 0 {
			return fmt.Errorf("zone: rebuild: zone %s: capacity %d, held %d, sold %d", z.id, z.capacity, z.held, z.sold)
		}
	}
	sortBySeq(active)
	for _, r := range active {
		if p := r.v.payment; p == nil || p.extendedAt == 0 {
			s.enqueueExpiry(r.v)
		}
	}
	s.enqueueExtended(active)
	s.active = len(active)
	sortBySeq(resolved)
	for _, r := range resolved {
		s.resolvedFIFO.push(r.v)
	}
	keys := make([]seqRef[keyEntry], 0, s.keys.len())
	for k := range s.keys.all() {
		if k.decidedAt > s.clock || k.seq > s.seq {
			return fmt.Errorf("zone: rebuild: key %q decided after the clock record", k.id.key)
		}
		keys = append(keys, seqRef[keyEntry]{k.seq, k})
	}
	sortBySeq(keys)
	for _, r := range keys {
		s.keyFIFO.push(r.v)
	}
	// A config lowered since the changelog was written: the keys are kept (the read
	// model may not have them) and new ones wait for room.
	if n := s.keyFIFO.len(); n > s.cfg.KeysMax {
		s.keysRebuilt = n
	}
	for s.resolvedFIFO.len() > s.cfg.ResolvedHoldsMax {
		s.forgetHold(*s.resolvedFIFO.front())
		s.resolvedEvictedEarly++
	}
	return nil
}

// rebuiltHoldErr says how a rebuilt hold contradicts itself or the clock record
// (written in the same transaction as any change of a hold): a hold placed or
// resolved after the clock, or active past its expiry, would break the expiry and
// retention orders.
func (s *State) rebuiltHoldErr(h *hold) error {
	switch {
	case h.qty < 1:
		return errors.New("quantity below 1")
	case h.createdAt > s.clock || h.seq > s.seq:
		return errors.New("placed after the clock record")
	case h.expiresAt <= h.createdAt:
		return errors.New("expires before it was placed")
	case h.status == statusActive && h.expiresAt <= s.clock:
		return errors.New("active past its expiry")
	case h.status != statusActive && (h.resolvedAt > s.clock || h.resolveSeq > s.seq):
		return errors.New("resolved after the clock record")
	case h.status != statusActive && (h.resolvedAt < h.createdAt || h.resolveSeq <= h.seq):
		return errors.New("resolved before it was placed")
	}
	return nil
}

type seqRef[T any] struct {
	seq uint64
	v   *T
}

func sortBySeq[T any](refs []seqRef[T]) {
	slices.SortFunc(refs, func(a, b seqRef[T]) int { return cmp.Compare(a.seq, b.seq) })
}
