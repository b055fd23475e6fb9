package zone

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// The changelog is a compacted topic of key/value records, one key per entity, value
// nil for a deleted entity. Every value starts with changelogVersion; numbers are
// varints (encoding/binary), times fixed 8-byte little-endian unix ns, strings
// uvarint-length-prefixed. Keys:
//
//	'c'                          the clock, the seq counter and eviction counters
//	'z' zoneID                   a zone's config and inventory
//	'h' holdID                   a hold, active or resolved
//	'k' zoneID idempotencyKey    a remembered answer
//	'u' zoneID customerID        a customer's ordered tickets in a zone
//
// Active-hold counts per customer, the expiry queues and the retention queues are
// derived, and rebuilt by FinishRebuild.
const changelogVersion = 1

const (
	recClock    = 'c'
	recZone     = 'z'
	recHold     = 'h'
	recKey      = 'k'
	recCustomer = 'u'
)

// changes lists the entities changed since the last drain. Entries may repeat or
// name entities since forgotten: DrainChanges looks each up and emits its latest
// value or a tombstone. The lists grow by a few entries per command and are emptied
// by every drain, which the loop does once per transaction.
type changes struct {
	zones     []*zone
	customers []customerRef
	holds     []uuid.UUID
	keys      []keyID
	drained   clockRecord // the 'c' record last emitted

	key, value []byte // reused encoding buffers
}

// clockRecord is the value of the 'c' record: the clock, the seq counter (so that a
// rebuilt state orders new holds and keys after the rebuilt ones), the eviction
// counters, and then the consumed command offset + 1 (0 = none recorded) and the
// keys rejected as full. Records written before the last two fields existed end
// after the eviction counters, and rebuild as zero.
type clockRecord struct {
	clock, seq                   int64
	keysEvicted, resolvedEvicted int64
	consumed, keysRejected       int64
}

// clockNow is the clock record of s as it is.
func (s *State) clockNow() clockRecord {
	cr := clockRecord{clock: s.clock, seq: int64(s.seq), keysEvicted: s.keysEvictedEarly,
		resolvedEvicted: s.resolvedEvictedEarly, keysRejected: s.keysRejectedFull}
	if s.hasConsumed {
		cr.consumed = s.consumed + 1
	}
	return cr
}

func encodeClock(b []byte, cr clockRecord) []byte {
	b = binary.LittleEndian.AppendUint64(append(b, changelogVersion), uint64(cr.clock))
	for _, v := range [...]int64{cr.seq, cr.keysEvicted, cr.resolvedEvicted, cr.consumed, cr.keysRejected} {
		b = binary.AppendUvarint(b, uint64(v))
	}
	return b
}

type customerRef struct {
	zone     *zone
	customer string
}

// DrainChanges emits the records of the entities changed since the last drain, as
// key/value pairs for the changelog (value nil = tombstone), and forgets the
// changes. key and value are reused after emit returns: the caller copies them.
func (s *State) DrainChanges(emit func(key, value []byte)) {
	c := &s.changes
	for i, z := range c.zones {
		z.dirty = false
		c.key = append(append(c.key[:0], recZone), z.id[:]...)
		c.value = encodeZone(c.value[:0], z)
		emit(c.key, c.value)
		c.zones[i] = nil
	}
	for i, ref := range c.customers {
		ct, ok := ref.zone.customers[ref.customer]
		c.key = append(append(append(c.key[:0], recCustomer), ref.zone.id[:]...), ref.customer...)
		switch {
		case !ok || ct.ordered == 0:
			// A refund took the customer's last ordered ticket (payment.go).
			emit(c.key, nil)
		case ct.dirty:
			ct.dirty = false
			ref.zone.customers[ref.customer] = ct
			c.value = binary.AppendVarint(append(c.value[:0], changelogVersion), ct.ordered)
			emit(c.key, c.value)
		}
		if ok && ct.ordered == 0 && ct.dirty {
			ct.dirty = false
			ref.zone.customers[ref.customer] = ct
		}
		c.customers[i] = customerRef{}
	}
	for _, id := range c.holds {
		h := s.hold(id)
		if h != nil && !h.dirty {
			continue // emitted already in this drain
		}
		c.key = append(append(c.key[:0], recHold), id[:]...)
		if h == nil {
			emit(c.key, nil)
			continue
		}
		h.dirty = false
		c.value = encodeHold(c.value[:0], h)
		emit(c.key, c.value)
	}
	for i, id := range c.keys {
		k := s.key(id)
		c.keys[i] = keyID{}
		if k != nil && !k.dirty {
			continue
		}
		c.key = append(append(append(c.key[:0], recKey), id.zone[:]...), id.key...)
		if k == nil {
			emit(c.key, nil)
			continue
		}
		k.dirty = false
		c.value = encodeKey(c.value[:0], k)
		emit(c.key, c.value)
	}
	if cr := s.clockNow(); cr != c.drained {
		c.drained = cr
		c.value = encodeClock(c.value[:0], cr)
		c.key = append(c.key[:0], recClock)
		emit(c.key, c.value)
	}
	c.zones, c.customers, c.holds, c.keys = c.zones[:0], c.customers[:0], c.holds[:0], c.keys[:0]
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, ns int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(ns)) }

func encodeZone(b []byte, z *zone) []byte {
	b = append(b, changelogVersion)
	b = append(b, z.eventID[:]...)
	for _, v := range [...]int64{z.capacity, z.held, z.sold, int64(z.ttl), z.holdQuantityMax, z.customerLimit} {
		b = binary.AppendVarint(b, v)
	}
	b = appendString(b, z.eventName)
	b = appendString(b, z.zoneName)
	return encodeZoneExtras(b, z)
}

func encodeHold(b []byte, h *hold) []byte {
	b = append(b, changelogVersion)
	b = append(b, h.zoneID[:]...)
	b = append(b, byte(h.status))
	b = binary.AppendVarint(b, h.qty)
	b = appendTime(b, h.createdAt)
	b = appendTime(b, h.expiresAt)
	b = binary.AppendUvarint(b, h.seq)
	b = appendString(b, h.customer)
	if h.status != statusActive {
		b = appendTime(b, h.resolvedAt)
		b = binary.AppendUvarint(b, h.resolveSeq)
	}
	if h.status == statusConfirmed {
		b = append(b, h.orderID[:]...)
	}
	return encodeHoldExtras(b, h)
}

// Outcome types, reasons and command types as bytes in the changelog. Append only.
var (
	outcomeTypeCodes = []topics.OutcomeType{"", topics.OutZoneConfigured, topics.OutHoldPlaced, topics.OutHoldConfirmed,
		topics.OutHoldReleased, topics.OutHoldExpired, topics.OutRequestRejected, topics.OutRequestReplayed,
		topics.OutHoldPaymentStarted, topics.OutPaymentRefundRequired, topics.OutOrderRefunded}
	reasonCodes = []topics.Reason{"", topics.ReasonInvalidCommand, topics.ReasonZoneNotFound,
		topics.ReasonCapacityBelowTaken, topics.ReasonInvalidTTL, topics.ReasonInsufficientCapacity,
		topics.ReasonQuantityOverLimit, topics.ReasonCustomerLimitExceeded, topics.ReasonIdempotencyConflict,
		topics.ReasonHoldNotFound, topics.ReasonHoldExpired, topics.ReasonHoldAlreadyConfirmed,
		topics.ReasonHoldAlreadyReleased, topics.ReasonPartitionFull,
		topics.ReasonPaymentRequired, topics.ReasonPaymentMismatch, topics.ReasonZoneFree, topics.ReasonRefundOverSold,
		topics.ReasonAdmissionRequired,
		// The queue writer's reasons: the zone does not decide them today, but every
		// reason of the contract has a code, so none can stop the writer (TestEveryReasonHasAChangelogCode).
		topics.ReasonAdmissionNotFound, topics.ReasonAdmissionExpired, topics.ReasonAdmissionAllowanceExceeded,
		topics.ReasonAdmissionCustomerMismatch, topics.ReasonQueueNotOpen, topics.ReasonQueueNotFound}
	commandTypeCodes = []topics.CommandType{"", topics.CmdConfigureZone, topics.CmdPlaceHold,
		topics.CmdConfirmHold, topics.CmdReleaseHold, topics.CmdStartPayment, topics.CmdRefundOrder}
)

func code[T comparable](codes []T, v T) byte {
	i := slices.Index(codes, v)
	if i < 0 {
		panic(fmt.Sprintf("zone: no changelog code for %v", v))
	}
	return byte(i)
}

func encodeKey(b []byte, k *keyEntry) []byte {
	b = append(b, changelogVersion)
	b = appendTime(b, k.decidedAt)
	b = binary.AppendUvarint(b, k.seq)
	b = append(b, k.requestID[:]...)
	b = append(b, code(outcomeTypeCodes, k.outType))
	b = append(b, k.holdID[:]...)
	b = append(b, k.orderID[:]...)
	b = append(b, code(reasonCodes, k.reason))
	b = binary.AppendVarint(b, k.available)
	b = appendString(b, k.message)
	fp := &k.fp
	b = append(b, code(commandTypeCodes, fp.typ))
	b = append(b, fp.holdID[:]...)
	b = binary.AppendVarint(b, fp.qty)
	b = appendString(b, fp.customer)
	if fp.cfg == nil {
		return append(b, 0)
	}
	c := fp.cfg
	b = append(b, 1, c.set)
	b = appendString(b, c.eventName)
	b = appendString(b, c.zoneName)
	for _, v := range [...]int64{c.capacity, c.ttlSeconds, c.holdQtyMax, c.customerLim} {
		b = binary.AppendVarint(b, v)
	}
	return b
}
