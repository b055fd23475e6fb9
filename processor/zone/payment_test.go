package zone

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ultimate-ticket/ultimate-ticket/topics"
)

const testPrice = 2500 // minor units per ticket

func (h *harness) pricedZone(zone uuid.UUID, capacity, ttlSeconds int64) {
	h.t.Helper()
	ev := h.createZone(zone, capacity, topics.ConfigureZone{HoldTTLSeconds: i64(ttlSeconds), PriceMinor: i64(testPrice), Currency: "eur"})
	if ev.Config.PriceMinor != testPrice || ev.Config.Currency != "eur" {
		h.t.Fatalf("zone.configured config %+v", ev.Config)
	}
}

func (h *harness) startPaymentCmd(zone, hold uuid.UUID, intent string, amount int64) *topics.Command {
	cmd := h.cmd(topics.CmdStartPayment, zone, "start-"+hold.String())
	cmd.StartPayment = &topics.StartPayment{HoldID: hold, Payment: topics.Payment{IntentID: intent, Amount: amount, Currency: "eur"}}
	return cmd
}

// paidConfirmCmd is the confirm a payment_intent.succeeded webhook becomes: its key
// is derived from the intent, so every delivery is one command.
func (h *harness) paidConfirmCmd(zone, hold uuid.UUID, intent string, amount int64) *topics.Command {
	cmd := h.cmd(topics.CmdConfirmHold, zone, "pay-"+intent)
	cmd.Confirm = &topics.ConfirmHold{HoldID: hold, Payment: &topics.Payment{IntentID: intent, Amount: amount, Currency: "eur"}}
	return cmd
}

func (h *harness) refundCmd(zone, order uuid.UUID, qty int64, customer, refundID string) *topics.Command {
	cmd := h.cmd(topics.CmdRefundOrder, zone, "refund-"+refundID)
	cmd.Refund = &topics.Refund{OrderID: order, HoldID: order, Quantity: qty, CustomerID: customer, RefundID: refundID, Amount: qty * testPrice}
	return cmd
}

func TestPricedZoneNeedsPayment(t *testing.T) {
	// Proves a priced zone refuses a confirm without payment, a free zone refuses a payment, and free zones confirm as before.
	h := newHarness(t, DefaultConfig())
	h.pricedZone(zoneA, 10, 60)
	h.createZone(zoneB, 10, topics.ConfigureZone{})
	paid := h.place(zoneA, 2, "")
	wantRejected(t, h.apply(h.confirmCmd(zoneA, paid, "c1")), topics.ReasonPaymentRequired)
	free := h.place(zoneB, 2, "")
	wantRejected(t, h.apply(h.startPaymentCmd(zoneB, free, "pi_1", 0)), topics.ReasonZoneFree)
	wantType(t, h.apply(h.confirmCmd(zoneB, free, "c2")), topics.OutHoldConfirmed)
	wantRejected(t, h.apply(h.configureCmd(zoneB, topics.ConfigureZone{PriceMinor: i64(5)})), topics.ReasonInvalidCommand)
	wantRejected(t, h.apply(h.configureCmd(zoneB, topics.ConfigureZone{PriceMinor: i64(5), Currency: "EUR"})), topics.ReasonInvalidCommand)
}

func TestPaymentExtendsHoldOnce(t *testing.T) {
	// Proves hold.start_payment extends a hold to start+PaymentExtension once, a repeat changes nothing, another intent or a wrong amount is refused, and the hold still expires at the bound.
	h := newHarness(t, DefaultConfig())
	h.pricedZone(zoneA, 10, 60)
	id := h.place(zoneA, 2, "")
	h.now = h.now.Add(50 * time.Second)
	short := h.startPaymentCmd(zoneA, id, "pi_1", testPrice)
	short.IdempotencyKey = "short"
	wantRejected(t, h.apply(short), topics.ReasonPaymentMismatch)
	ev := h.apply(h.startPaymentCmd(zoneA, id, "pi_1", 2*testPrice))
	wantType(t, ev, topics.OutHoldPaymentStarted)
	want := h.now.Add(PaymentExtensionDefault)
	if !ev.Hold.ExpiresAt.Equal(want) || ev.Payment == nil || ev.Payment.IntentID != "pi_1" {
		t.Fatalf("payment_started hold %+v payment %+v, want expires_at %v", ev.Hold, ev.Payment, want)
	}
	h.now = h.now.Add(time.Minute)
	again := h.startPaymentCmd(zoneA, id, "pi_1", 2*testPrice)
	again.IdempotencyKey = "another-key"
	if ev := h.apply(again); ev.Type != topics.OutHoldPaymentStarted || !ev.Hold.ExpiresAt.Equal(want) {
		t.Fatalf("second start %s expires %v, want the same expiry %v", ev.Type, ev.Hold.ExpiresAt, want)
	}
	other := h.startPaymentCmd(zoneA, id, "pi_2", 2*testPrice)
	other.IdempotencyKey = "third-key"
	wantRejected(t, h.apply(other), topics.ReasonPaymentMismatch)
	evs := h.s.Advance(nil, want)
	if len(evs) != 1 || evs[0].Type != topics.OutHoldExpired || evs[0].Payment == nil || evs[0].Payment.IntentID != "pi_1" {
		t.Fatalf("at the bound: %+v", evs)
	}
	if err := h.s.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestPaymentKeepsLongerTTL(t *testing.T) {
	// Proves a start whose extension would shorten the hold leaves expires_at alone.
	h := newHarness(t, DefaultConfig())
	h.pricedZone(zoneA, 10, 3600)
	id := h.place(zoneA, 1, "")
	placed := h.now.Add(time.Hour)
	ev := h.apply(h.startPaymentCmd(zoneA, id, "pi_1", testPrice))
	if !ev.Hold.ExpiresAt.Equal(placed) {
		t.Fatalf("expires_at %v, want %v", ev.Hold.ExpiresAt, placed)
	}
}

func TestPaidConfirm(t *testing.T) {
	// Proves a succeeded payment confirms an active hold once (duplicates replay), and a failed-after-succeeded delivery has nothing left to do.
	h := newHarness(t, DefaultConfig())
	h.pricedZone(zoneA, 10, 60)
	id := h.place(zoneA, 2, "ann")
	h.apply(h.startPaymentCmd(zoneA, id, "pi_1", 2*testPrice))
	ev := h.apply(h.paidConfirmCmd(zoneA, id, "pi_1", 2*testPrice))
	wantType(t, ev, topics.OutHoldConfirmed)
	if ev.Payment == nil || ev.Payment.IntentID != "pi_1" || ev.Order == nil {
		t.Fatalf("confirmed without payment or order: %+v", ev)
	}
	wantInventory(t, ev.Zone, 10, 8, 0, 2)
	dup := h.apply(h.paidConfirmCmd(zoneA, id, "pi_1", 2*testPrice))
	if dup.Type != topics.OutRequestReplayed || dup.Replay.OrderID != ev.Order.ID {
		t.Fatalf("duplicate delivery: %s %+v", dup.Type, dup.Replay)
	}
	wantRejected(t, h.apply(h.releaseCmd(zoneA, id, "failed-pi_1")), topics.ReasonHoldAlreadyConfirmed)
	wantInventory(t, h.apply(h.releaseCmd(zoneA, id, "failed-pi_1")).Zone, 10, 8, 0, 2)
}

func TestLatePaymentRequiresRefund(t *testing.T) {
	// Proves a payment that succeeds after its hold expired, was released, or for a hold paid by another intent, answers payment.refund_required and sells nothing.
	h := newHarness(t, DefaultConfig())
	h.pricedZone(zoneA, 10, 60)
	expired := h.place(zoneA, 2, "")
	h.apply(h.startPaymentCmd(zoneA, expired, "pi_late", 2*testPrice))
	h.now = h.now.Add(time.Hour)
	ev := h.apply(h.paidConfirmCmd(zoneA, expired, "pi_late", 2*testPrice))
	wantType(t, ev, topics.OutPaymentRefundRequired)
	if ev.Rejection.Reason != topics.ReasonHoldExpired || ev.Payment.IntentID != "pi_late" || ev.Hold == nil {
		t.Fatalf("refund_required %+v %+v %+v", ev.Rejection, ev.Payment, ev.Hold)
	}
	wantInventory(t, ev.Zone, 10, 10, 0, 0)
	dup := h.apply(h.paidConfirmCmd(zoneA, expired, "pi_late", 2*testPrice))
	if dup.Type != topics.OutRequestReplayed || dup.Replay.OriginalType != topics.OutPaymentRefundRequired ||
		dup.Replay.Rejection == nil || dup.Replay.Rejection.Reason != topics.ReasonHoldExpired {
		t.Fatalf("duplicate late delivery %+v", dup.Replay)
	}

	released := h.place(zoneA, 1, "")
	h.apply(h.releaseCmd(zoneA, released, "rel"))
	ev = h.apply(h.paidConfirmCmd(zoneA, released, "pi_rel", testPrice))
	if ev.Type != topics.OutPaymentRefundRequired || ev.Rejection.Reason != topics.ReasonHoldAlreadyReleased {
		t.Fatalf("paid after release: %s %+v", ev.Type, ev.Rejection)
	}
	twice := h.place(zoneA, 1, "")
	h.apply(h.paidConfirmCmd(zoneA, twice, "pi_a", testPrice))
	ev = h.apply(h.paidConfirmCmd(zoneA, twice, "pi_b", testPrice))
	if ev.Type != topics.OutPaymentRefundRequired || ev.Rejection.Reason != topics.ReasonHoldAlreadyConfirmed {
		t.Fatalf("second payment: %s %+v", ev.Type, ev.Rejection)
	}
	wrong := h.place(zoneA, 1, "")
	ev = h.apply(h.paidConfirmCmd(zoneA, wrong, "pi_w", 1))
	if ev.Type != topics.OutPaymentRefundRequired || ev.Rejection.Reason != topics.ReasonPaymentMismatch {
		t.Fatalf("wrong amount: %s %+v", ev.Type, ev.Rejection)
	}
	ev = h.apply(h.paidConfirmCmd(zoneA, testID('H', 9), "pi_x", testPrice))
	if ev.Type != topics.OutPaymentRefundRequired || ev.Rejection.Reason != topics.ReasonHoldNotFound {
		t.Fatalf("unknown hold: %s %+v", ev.Type, ev.Rejection)
	}
}

func TestRefundRestocks(t *testing.T) {
	// Proves order.refund moves sold tickets back to available, frees the customer's limit, replays once per refund id, and cannot refund more than was sold.
	h := newHarness(t, DefaultConfig())
	h.createZone(zoneA, 4, topics.ConfigureZone{PriceMinor: i64(testPrice), Currency: "eur", CustomerLimit: i64(3)})
	id := h.place(zoneA, 3, "ann")
	conf := h.apply(h.paidConfirmCmd(zoneA, id, "pi_1", 3*testPrice))
	wantRejected(t, h.apply(h.placeCmd(zoneA, 1, "ann", "")), topics.ReasonCustomerLimitExceeded)
	ev := h.apply(h.refundCmd(zoneA, conf.Order.ID, 2, "ann", "re_1"))
	wantType(t, ev, topics.OutOrderRefunded)
	wantInventory(t, ev.Zone, 4, 3, 0, 1)
	if ev.Refund == nil || ev.Refund.RefundID != "re_1" || ev.Refund.Quantity != 2 {
		t.Fatalf("refund %+v", ev.Refund)
	}
	wantType(t, h.apply(h.refundCmd(zoneA, conf.Order.ID, 2, "ann", "re_1")), topics.OutRequestReplayed)
	other := h.refundCmd(zoneA, conf.Order.ID, 2, "ann", "re_1b") // the same refund, another provider id
	other.IdempotencyKey = "refund-re_1"
	wantType(t, h.apply(other), topics.OutRequestReplayed)
	wantRejected(t, h.apply(h.refundCmd(zoneA, conf.Order.ID, 2, "ann", "re_2")), topics.ReasonRefundOverSold)
	h.place(zoneA, 2, "ann")
	ev = h.apply(h.refundCmd(zoneA, conf.Order.ID, 1, "ann", "re_3"))
	wantInventory(t, ev.Zone, 4, 2, 2, 0)
}

func TestPaymentRebuildRoundTrip(t *testing.T) {
	// Proves prices, payments under way, extensions and refunds survive a changelog rebuild: the rebuilt state expires and answers alike.
	h := newHarness(t, DefaultConfig())
	h.pricedZone(zoneA, 20, 60)
	a := h.place(zoneA, 2, "ann")
	b := h.place(zoneA, 1, "bob")
	h.now = h.now.Add(40 * time.Second)
	h.apply(h.startPaymentCmd(zoneA, b, "pi_b", testPrice))
	h.now = h.now.Add(time.Second)
	h.apply(h.startPaymentCmd(zoneA, a, "pi_a", 2*testPrice))
	c := h.place(zoneA, 3, "cy")
	conf := h.apply(h.paidConfirmCmd(zoneA, c, "pi_c", 3*testPrice))
	h.apply(h.refundCmd(zoneA, conf.Order.ID, 3, "cy", "re_c"))
	log := map[string][]byte{}
	drainAll(h.s, log)
	r := rebuildFrom(t, DefaultConfig(), log)
	if r.Stats() != h.s.Stats() {
		t.Fatalf("rebuilt %+v, want %+v", r.Stats(), h.s.Stats())
	}
	h.s = r
	wantRejected(t, h.apply(h.confirmCmd(zoneA, a, "free")), topics.ReasonPaymentRequired)
	other := h.startPaymentCmd(zoneA, a, "pi_other", 2*testPrice)
	other.IdempotencyKey = "k-other"
	wantRejected(t, h.apply(other), topics.ReasonPaymentMismatch)
	h.now = h.now.Add(PaymentExtensionDefault)
	evs := h.s.Advance(nil, h.now)
	if len(evs) != 2 || evs[0].Hold.ID != b || evs[1].Hold.ID != a || evs[0].Payment.IntentID != "pi_b" {
		t.Fatalf("expiries after rebuild: %+v", evs)
	}
	wantInventory(t, h.apply(h.placeCmd(zoneA, 10, "", "")).Zone, 20, 10, 10, 0)
}
