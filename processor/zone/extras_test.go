package zone

import (
	"testing"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

// TestOptionalFieldsRebuildTogether: a priced zone behind a waiting room, and a hold
// that debited an admission and started a payment, keep every optional field through
// the changelog; the same record without them still rebuilds, and unknown flags are
// refused.
func TestOptionalFieldsRebuildTogether(t *testing.T) {
	h := newHarness(t, DefaultConfig())
	wr := true
	h.createZone(zoneA, 10, topics.ConfigureZone{WaitingRoom: &wr, HoldTTLSeconds: i64(60),
		PriceMinor: i64(testPrice), Currency: "eur"})
	h.createZone(zoneB, 10, topics.ConfigureZone{})
	queueID := testID('Q', 7)
	c := h.placeCmd(zoneA, 2, "buyer", "k1")
	c.Place.Admission = &topics.AdmissionRef{QueueID: queueID, Debited: true}
	held := h.apply(c)
	wantType(t, held, topics.OutHoldPlaced)
	wantType(t, h.apply(h.startPaymentCmd(zoneA, held.Hold.ID, "pi_1", 2*testPrice)), topics.OutHoldPaymentStarted)
	plain := h.place(zoneB, 1, "")

	log := map[string][]byte{}
	drainAll(h.s, log)
	r := rebuildFrom(t, DefaultConfig(), log)
	za, zb := r.zones[zoneA], r.zones[zoneB]
	if !za.waitingRoom || za.priceMinor != testPrice || za.currency != "eur" {
		t.Fatalf("zone A rebuilt as waiting room %v, price %d %q", za.waitingRoom, za.priceMinor, za.currency)
	}
	if zb.waitingRoom || zb.priceMinor != 0 || zb.currency != "" {
		t.Fatalf("zone B rebuilt with fields it never had: %+v", zb)
	}
	got := r.hold(held.Hold.ID)
	if got == nil || got.queueID != queueID || got.payment == nil || got.payment.intentID != "pi_1" ||
		got.payment.amount != 2*testPrice {
		t.Fatalf("hold rebuilt as %+v", got)
	}
	if p := r.hold(plain); p == nil || p.payment != nil || p.queueID != uuid.Nil {
		t.Fatalf("plain hold rebuilt as %+v", p)
	}

	// An unknown flag is a corrupt record, not a silently dropped field.
	for _, b := range [][]byte{{1 << 7}, {0}, {extraPrice}} {
		d := decoder{b: b}
		decodeZoneExtras(&d, &zone{})
		if !d.bad {
			t.Fatalf("zone extras %v decoded without complaint", b)
		}
	}
	d := decoder{b: []byte{1 << 6}}
	decodeHoldExtras(&d, &hold{})
	if !d.bad {
		t.Fatal("hold extras with an unknown flag decoded without complaint")
	}
}
