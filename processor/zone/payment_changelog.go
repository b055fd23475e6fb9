package zone

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// The payment fields are appended to the zone and hold records of changelogVersion 1
// when they are set, so records of free zones and of holds without a payment are
// what they were, and records written before payments existed rebuild as free.
//
//	zone: ... zoneName, [priceMinor varint, currency string]
//	hold: ... [orderID], [intentID string, amount varint, extendedAt time, extendSeq uvarint]

func encodeZonePrice(b []byte, z *zone) []byte {
	if z.priceMinor == 0 && z.currency == "" {
		return b
	}
	b = binary.AppendVarint(b, z.priceMinor)
	return appendString(b, z.currency)
}

func decodeZonePrice(d *decoder, z *zone) {
	if d.bad || len(d.b) == 0 {
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
	if d.bad || len(d.b) == 0 {
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
