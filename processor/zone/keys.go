package zone

import (
	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// Idempotency keys are scoped to a zone. A key remembers the fingerprint of the
// command that decided it and the answer, so a retry with the same payload gets the
// same answer (request.replayed) and one with another payload an
// idempotency_conflict, which is not remembered.

type keyID struct {
	zone uuid.UUID
	key  string
}

type keyEntry struct {
	id        keyID
	fp        fingerprint
	decidedAt int64 // unix ns
	seq       uint64
	requestID uuid.UUID
	outType   topics.OutcomeType
	holdID    uuid.UUID
	orderID   uuid.UUID
	reason    topics.Reason
	message   string
	available int64
	dirty     bool
	hash      uint64 // in State.keys
}

// fingerprint is a command's type and payload, compared field by field (no hash, so
// no collisions). Configure payloads are rare and live behind a pointer to keep the
// common entry small.
type fingerprint struct {
	typ      topics.CommandType
	holdID   uuid.UUID // confirm, release, start_payment; the order of a refund
	qty      int64     // place; the amount of a payment, the quantity of a refund
	customer string    // place; the intent and currency of a payment
	cfg      *configPrint
}

// configPrint is a configure payload; a nil pointer field is -1 with its bit clear.
type configPrint struct {
	set                                           uint8 // bit per pointer field present
	eventName, zoneName                           string
	capacity, ttlSeconds, holdQtyMax, customerLim int64
}

const (
	setCapacity = 1 << iota
	setTTL
	setHoldQtyMax
	setCustomerLimit
)

func fingerprintOf(cmd *topics.Command) fingerprint {
	fp := fingerprint{typ: cmd.Type}
	switch cmd.Type {
	case topics.CmdPlaceHold:
		fp.qty, fp.customer = cmd.Place.Quantity, cmd.Place.CustomerID
	case topics.CmdConfirmHold:
		fp.holdID = cmd.Confirm.HoldID
		if p := cmd.Confirm.Payment; p != nil {
			fp.qty, fp.customer = p.Amount, p.IntentID+" "+p.Currency
		}
	case topics.CmdStartPayment:
		p := &cmd.StartPayment.Payment
		fp.holdID, fp.qty, fp.customer = cmd.StartPayment.HoldID, p.Amount, p.IntentID+" "+p.Currency
	case topics.CmdRefundOrder:
		r := cmd.Refund
		// The refund id is the provider's answer, not part of the request: a retry
		// of the same refund carries the same key (the API derives it from the
		// admin's Idempotency-Key) and replays, whatever id the provider gave.
		fp.holdID, fp.qty = r.OrderID, r.Quantity
	case topics.CmdReleaseHold:
		fp.holdID = cmd.Release.HoldID
	case topics.CmdConfigureZone:
		c := cmd.Configure
		cp := &configPrint{eventName: c.EventName, zoneName: c.ZoneName}
		opt := func(p *int64, bit uint8) int64 {
			if p == nil {
				return -1
			}
			cp.set |= bit
			return *p
		}
		cp.capacity = opt(c.Capacity, setCapacity)
		cp.ttlSeconds = opt(c.HoldTTLSeconds, setTTL)
		cp.holdQtyMax = opt(c.HoldQuantityMax, setHoldQtyMax)
		cp.customerLim = opt(c.CustomerLimit, setCustomerLimit)
		fp.cfg = cp
	}
	return fp
}

func (a *fingerprint) equal(b *fingerprint) bool {
	if a.typ != b.typ || a.holdID != b.holdID || a.qty != b.qty || a.customer != b.customer {
		return false
	}
	if a.cfg == nil || b.cfg == nil {
		return a.cfg == b.cfg
	}
	return *a.cfg == *b.cfg
}

// roomForKey makes room for one more key below KeysMax by forgetting the oldest keys
// the read model has (SetSunkThrough). It reports false, counting it, when the
// oldest key is not known to be in the read model: forgetting it would let a retry
// decide anew, a second hold or order. Keys are in decision order, so when the
// oldest cannot go, none can.
func (s *State) roomForKey() bool {
	for s.keyFIFO.len() >= s.cfg.KeysMax {
		k := *s.keyFIFO.front()
		if k.decidedAt > s.sunk || k.seq > s.sunkSeq {
			s.keysRejectedFull++
			return false
		}
		s.forgetKey(k)
		s.keysEvictedEarly++
	}
	return true
}

// remember records the answer to a keyed command; roomForKey made room for it.
func (s *State) remember(cmd *topics.Command, fp *fingerprint, o *decision) {
	k := s.keySlab.get()
	s.seq++
	*k = keyEntry{
		id:        keyID{zone: cmd.ZoneID, key: cmd.IdempotencyKey},
		fp:        *fp,
		decidedAt: s.clock,
		seq:       s.seq,
		requestID: cmd.RequestID,
		outType:   o.typ,
		reason:    o.reason,
		message:   o.message,
		available: o.available,
	}
	if o.hold != nil {
		k.holdID = o.hold.id
		if o.typ == topics.OutHoldConfirmed {
			k.orderID = o.hold.orderID
		}
	}
	s.addKey(k)
	s.keyFIFO.push(k)
	s.markKey(k)
}

// forgetKey forgets the oldest key.
func (s *State) forgetKey(k *keyEntry) {
	popOldest(&s.keyFIFO, k, "a key out of decision order")
	s.dropKey(k)
	s.changes.keys = append(s.changes.keys, k.id)
	s.keySlab.put(k)
}

func (s *State) markKey(k *keyEntry) { markChanged(&k.dirty, &s.changes.keys, k.id) }
