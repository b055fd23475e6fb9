package zone

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/google/uuid"
)

// The optional fields of zone and hold records (changelogVersion 1): when any is set,
// a flags byte follows the record's fields, then the fields its bits name, in bit
// order. Records without them are what they were before the fields existed, and
// rebuild as a free zone outside a waiting room, a hold without admission or payment.
//
//	zone: ... zoneName, [flags, [priceMinor varint, currency string]]
//	hold: ... [orderID], [flags, [queueID 16 bytes], [intentID string, amount varint,
//	      extendedAt time, extendSeq uvarint]]
const (
	extraWaitingRoom = 1 << 0 // zone: sold behind its event's waiting room
	extraPrice       = 1 << 1 // zone: priceMinor and currency follow
	extraAdmission   = 1 << 0 // hold: the admission it debited follows
	extraPayment     = 1 << 1 // hold: its payment follows
	extrasKnown      = 1<<2 - 1
)

func encodeZoneExtras(b []byte, z *zone) []byte {
	var flags byte
	if z.waitingRoom {
		flags |= extraWaitingRoom
	}
	priced := z.priceMinor != 0 || z.currency != ""
	if priced {
		flags |= extraPrice
	}
	if flags == 0 {
		return b
	}
	b = append(b, flags)
	if priced {
		b = binary.AppendVarint(b, z.priceMinor)
		b = appendString(b, z.currency)
	}
	return b
}

func decodeZoneExtras(d *decoder, z *zone) {
	if d.bad || len(d.b) == 0 {
		return
	}
	flags := d.byte()
	if flags == 0 || flags&^extrasKnown != 0 {
		d.fail()
		return
	}
	z.waitingRoom = flags&extraWaitingRoom != 0
	if flags&extraPrice != 0 {
		decodeZonePrice(d, z)
	}
}

func encodeHoldExtras(b []byte, h *hold) []byte {
	var flags byte
	if h.queueID != uuid.Nil {
		flags |= extraAdmission
	}
	if h.payment != nil {
		flags |= extraPayment
	}
	if flags == 0 {
		return b
	}
	b = append(b, flags)
	if h.queueID != uuid.Nil {
		b = append(b, h.queueID[:]...)
	}
	return encodeHoldPayment(b, h)
}

func decodeHoldExtras(d *decoder, h *hold) {
	if d.bad || len(d.b) == 0 {
		return
	}
	flags := d.byte()
	if flags == 0 || flags&^extrasKnown != 0 {
		d.fail()
		return
	}
	if flags&extraAdmission != 0 {
		h.queueID = d.uuid()
	}
	if flags&extraPayment != 0 {
		h.payment = decodeHoldPayment(d)
	}
}

func decodeZonePrice(d *decoder, z *zone) {
	if d.bad {
		return
	}
	z.priceMinor, z.currency = d.varint(), d.string()
	if z.priceMinor < 0 || (z.priceMinor > 0 && z.currency == "") {
		d.fail()
	}
}

func encodeHoldPayment(b []byte, h *hold) []byte {
	p := h.payment
	if p == nil {
		return b
	}
	b = appendString(b, p.intentID)
	b = binary.AppendVarint(b, p.amount)
	b = appendTime(b, p.extendedAt)
	return binary.AppendUvarint(b, p.extendSeq)
}

func decodeHoldPayment(d *decoder) *holdPayment {
	if d.bad {
		return nil
	}
	p := &holdPayment{intentID: d.string(), amount: d.varint(), extendedAt: d.time(), extendSeq: d.uvarint()}
	if p.intentID == "" || p.amount < 0 {
		d.fail()
	}
	return p
}

// enqueueExtended puts the active holds that a payment extended back in their
// extension queues, in the order they were extended.
func (s *State) enqueueExtended(active []seqRef[hold]) {
	var ext []*hold
	for _, r := range active {
		if p := r.v.payment; p != nil && p.extendedAt != 0 {
			ext = append(ext, r.v)
		}
	}
	slices.SortFunc(ext, func(a, b *hold) int { return cmp.Compare(a.payment.extendSeq, b.payment.extendSeq) })
	for _, h := range ext {
		s.enqueueExpiry(h)
	}
}
